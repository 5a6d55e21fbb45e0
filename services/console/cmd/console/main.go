// Command console serves the staff console; see services/console/app for its configuration.
package main

import (
	"context"

	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/console/app"
)

func main() {
	var cfg app.Config
	server.Main("console", cfg.Bind, func(ctx context.Context) error { return app.Run(ctx, cfg) })
}
