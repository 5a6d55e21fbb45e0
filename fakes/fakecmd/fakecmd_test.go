package fakecmd

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"

	"github.com/interloan/interloan/fakes/fakecmd/fakecmdtest"
)

func TestList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Xyz", []string{"Xyz"}},
		{" Xyz , ,Qrs,", []string{"Xyz", "Qrs"}},
	} {
		if got := List(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestServeAnswersThenShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs fakecmdtest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }),
			func(a net.Addr) { io.WriteString(&logs, "serving at http://"+a.String()+"\n") })
	}()
	resp, err := http.Get(logs.WaitForURL(t))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Errorf("answer %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

func TestServeReportsABadAddress(t *testing.T) {
	started := false
	if err := Serve(context.Background(), "not an address", http.NotFoundHandler(), func(net.Addr) { started = true }); err == nil || started {
		t.Errorf("err %v, started %v", err, started)
	}
}

func TestParseRefusesPositionalArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"--n", "3"}, true},
		{[]string{"--n", "3", "extra"}, false},
		{[]string{"--nope"}, false},
	} {
		fs := NewFlagSet("fake", io.Discard)
		fs.Int("n", 0, "")
		if err := Parse(fs, tc.args); (err == nil) != tc.ok {
			t.Errorf("Parse(%q) = %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}
