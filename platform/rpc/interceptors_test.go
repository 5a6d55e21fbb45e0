package rpc

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging/logtest"
)

// TestRoutineCallsQuietOnlyForTheHarvester: a successful call marked routine is logged at
// debug only when the harvester made it; anyone else's stays at info, so the marker cannot
// hide a caller's calls from the access log.
func TestRoutineCallsQuietOnlyForTheHarvester(t *testing.T) {
	routine := metadata.NewIncomingContext(context.Background(), metadata.Pairs("interloan-routine", "1"))
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"harvester poll", auth.NewContext(routine, auth.Principal{Name: "h", Roles: []auth.Role{auth.RoleHarvester}}), "DEBUG"},
		{"admin marking its call routine", auth.NewContext(routine, auth.Principal{Name: "a", Roles: []auth.Role{auth.RoleAdmin}}), "INFO"},
		{"no principal", routine, "INFO"},
		{"harvester, not routine", auth.NewContext(context.Background(), auth.Principal{Name: "h", Roles: []auth.Role{auth.RoleHarvester}}), "INFO"},
	} {
		var buf logtest.Buffer
		log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logCall(tc.ctx, log, "/x.v1.S/M", time.Now(), nil)
		if !strings.Contains(buf.String(), `"level":"`+tc.want+`"`) {
			t.Errorf("%s: logged %s, want level %s", tc.name, buf.String(), tc.want)
		}
	}
}
