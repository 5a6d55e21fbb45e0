// Command mapping serves the mapping service; see services/mapping/app for its configuration.
package main

import (
	"context"

	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/mapping/app"
)

func main() {
	var cfg app.Config
	server.Main("mapping", cfg.Bind, func(ctx context.Context) error { return app.Run(ctx, cfg) })
}
