// Command harvester serves the harvester service; see services/harvester/app for its configuration.
package main

import (
	"context"

	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/harvester/app"
)

func main() {
	var cfg app.Config
	server.Main("harvester", cfg.Bind, func(ctx context.Context) error { return app.Run(ctx, cfg) })
}
