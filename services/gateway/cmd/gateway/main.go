// Command gateway serves the REST gateway; see services/gateway/app for its configuration.
package main

import (
	"context"

	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/gateway/app"
)

func main() {
	var cfg app.Config
	server.Main("gateway", cfg.Bind, func(ctx context.Context) error { return app.Run(ctx, cfg) })
}
