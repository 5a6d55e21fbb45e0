package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/cli"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	requests "github.com/interloan/interloan/services/requests/app"
)

// TestBackupAndRestore: `interloan backup` takes the ledger from the running suite over
// TLS with the admin token, `interloan restore` puts it into a fresh data directory, and
// a ledger started there answers with exactly the same requests. A viewer may not take a
// backup, and a failed one leaves no file.
func TestBackupAndRestore(t *testing.T) {
	e := start(t)
	today := time.Now()
	e.suite.Libris.AddKey("key-abc", "Abc")
	e.suite.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 9, Sigel: "Abc", Count: 120, From: today, To: today, Lenders: []string{"Xyz"}})...)
	e.library("MAIN")
	e.mapLibris("Abc", "MAIN")
	e.partner("XYZ")
	profile := e.profile("abc", "Abc", "key-abc", "MAIN", today)
	if run := e.run(profile); run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
		t.Fatalf("run: %v %v", run.GetState(), run.GetAlerts())
	}
	want := e.ledger(profile)

	dir := t.TempDir()
	file := filepath.Join(dir, "requests.backup")
	backupAs := func(tokenFile, out string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := cli.Main([]string{"backup", "--service", "requests", "--addr", e.suite.Addrs.Requests, "--ca-file", e.suite.Addrs.CAFile,
			"--token-file", tokenFile, "--out", out}, &stdout, &stderr)
		return code, stderr.String()
	}
	viewerFile := filepath.Join(dir, "viewer.token")
	e.must(os.WriteFile(viewerFile, []byte(e.newToken("eve", "viewer")), 0o600))
	denied := filepath.Join(dir, "denied.backup")
	if code, msg := backupAs(viewerFile, denied); code != 1 || !strings.Contains(msg, "PermissionDenied") {
		t.Fatalf("a viewer's backup: exit %d, %s", code, msg)
	}
	if _, err := os.Stat(denied); err == nil {
		t.Fatal("a refused backup left a file")
	}
	if code, msg := backupAs(e.suite.Addrs.AdminTokenFile, file); code != 0 {
		t.Fatalf("backup: exit %d, %s", code, msg)
	}

	restored := filepath.Join(dir, "restored")
	var stdout, stderr bytes.Buffer
	if code := cli.Main([]string{"restore", "--service", "requests", "--data-dir", restored, "--in", file}, &stdout, &stderr); code != 0 {
		t.Fatalf("restore: exit %d, %s", code, stderr.String())
	}
	if code := cli.Main([]string{"restore", "--service", "requests", "--data-dir", restored, "--in", file}, &stdout, &stderr); code != 1 {
		t.Fatal("a restore over an existing file without --force succeeded")
	}

	// A ledger on the restored file answers exactly as the original.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	e.must(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- requests.Run(ctx, requests.Config{Common: server.Common{DataDir: restored, Logger: logging.Discard(),
			GRPCListener: lis, TokensFile: e.tokensFile}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("restored ledger: %v", err)
		}
	}()
	copyEnv := &env{t: t, ctx: e.ctx, Clients: testenv.Clients{Requests: requestsv1.NewRequestServiceClient(dialAs(t, lis.Addr().String(), e.adminToken))}}
	got := copyEnv.ledger(profile)
	if len(got) != len(want) || len(got) != 120 {
		t.Fatalf("restored ledger holds %d requests, the original %d", len(got), len(want))
	}
	for id, br := range want {
		if !proto.Equal(br, got[id]) {
			t.Fatalf("request %s differs after restore:\n%v\n%v", id, br, got[id])
		}
	}
}
