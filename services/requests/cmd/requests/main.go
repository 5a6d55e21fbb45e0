// Command requests serves the requests service; see services/requests/app for its configuration.
package main

import (
	"context"

	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/requests/app"
)

func main() {
	var cfg app.Config
	server.Main("requests", cfg.Bind, func(ctx context.Context) error { return app.Run(ctx, cfg) })
}
