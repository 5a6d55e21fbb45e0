// Command profiles serves the profiles service; see services/profiles/app for its configuration.
package main

import (
	"context"

	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/profiles/app"
)

func main() {
	var cfg app.Config
	server.Main("profiles", cfg.Bind, func(ctx context.Context) error { return app.Run(ctx, cfg) })
}
