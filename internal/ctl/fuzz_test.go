package ctl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"google.golang.org/protobuf/proto"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// FuzzServerAnswers feeds arbitrary bytes where the CLI reads a server's answer: an error
// body and a watch stream. Neither may panic, and an error message, which reaches the
// operator's terminal, holds no control character but the line breaks it adds itself;
// under -o json it is one valid JSON object.
func FuzzServerAnswers(f *testing.F) {
	for _, seed := range []string{
		`{"code":9,"message":"not allowed","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACTION_NOT_ALLOWED","metadata":{"status":"X"}}]}`,
		`{"code":3,"message":"bad\u001b[2J","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"a\nb","description":"c"}]}]}`,
		"{\"result\":{\"name\":\"runs/1\",\"state\":\"RUN_STATE_RUNNING\"}}\n{\"error\":{\"code\":14,\"message\":\"gone\"}}\n",
		"{\"result\":{\"counters\":{\"fetched\":\"9\"}}}\n\n{\"result\":{}}",
		"<html>\x1b]0;title\x07</html>",
		`{"code":99}`,
	} {
		f.Add([]byte(seed), 400)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		check := func(err error) {
			var out, js bytes.Buffer
			report("interloan x", "", err, &out)
			if report("interloan x", formatJSON, err, &js); err != nil && !json.Valid(js.Bytes()) {
				t.Fatalf("-o json printed an error that is not JSON: %q", js.String())
			}
			for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				if i := strings.IndexFunc(line, unicode.IsControl); i >= 0 {
					t.Fatalf("control character %q in the printed line %q", line[i], line)
				}
			}
		}
		check(decodeError(status, body))
		check(readStream(bytes.NewReader(body), func() proto.Message { return &harvesterv1.Run{} },
			func(m proto.Message) error {
				if _, ok := m.(*harvesterv1.Run); !ok {
					t.Fatalf("stream gave a %T", m)
				}
				return nil
			}))
		// A failed run's exit message quotes the server's alert text.
		run := &harvesterv1.Run{Name: "runs/" + string(body), State: harvesterv1.RunState_RUN_STATE_FAILED,
			Alerts: []*harvesterv1.Alert{{Code: harvesterv1.AlertCode_ALERT_CODE_AUTH_FAILED, Message: string(body)}}}
		check(runOutcome(run))
	})
}
