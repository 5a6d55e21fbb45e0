package ctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
	"sigs.k8s.io/yaml"
)

// The output formats. json and yaml are the canonical proto JSON of the answer (the same
// document the REST API returns, so scripts can switch between the two freely); table
// is for people and is built from the typed fields.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// view is how an answer looks as a table.
type view interface {
	render(w io.Writer) error
}

// table is a list: one row per resource.
type table struct {
	header []string
	rows   [][]string
}

func (t table) render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, row := range t.rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// detail is one resource: a label and value per line.
type detail []field

type field struct{ label, value string }

func (d detail) render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range d {
		fmt.Fprintf(tw, "%s:\t%s\n", f.label, sanitize(f.value))
	}
	return tw.Flush()
}

// views is several views one after another, e.g. a run report and its alerts.
type views []view

func (vs views) render(w io.Writer) error {
	for i, v := range vs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := v.render(w); err != nil {
			return err
		}
	}
	return nil
}

// printer writes answers in the chosen format.
type printer struct {
	format string
	w      io.Writer
}

// print writes m as JSON or YAML, or asView() as a table.
func (p printer) print(m proto.Message, asView func() view) error {
	switch p.format {
	case formatJSON, formatYAML:
		b, err := canonicalJSON(m)
		if err != nil {
			return err
		}
		if p.format == formatYAML {
			if b, err = yaml.JSONToYAML(b); err != nil {
				return err
			}
		}
		_, err = p.w.Write(b)
		return err
	default:
		return asView().render(p.w)
	}
}

// line writes m as one line: compact JSON (for json and yaml alike, so a stream stays
// one document per line), for watch streams.
func (p printer) line(m proto.Message) error {
	raw, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err = p.w.Write(b.Bytes())
	return err
}

// canonicalJSON is m's proto JSON, indented and ending in a newline. protojson
// deliberately varies its whitespace between builds; re-indenting makes the output
// stable, which scripts that diff it rely on.
func canonicalJSON(m proto.Message) ([]byte, error) {
	raw, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// maxCell bounds a table cell: titles from external systems can be long.
const maxCell = 48

// cell is a table cell: sanitized and cut to maxCell runes.
func cell(s string) string {
	s = sanitize(s)
	if r := []rune(s); len(r) > maxCell {
		return string(r[:maxCell-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

// sanitize replaces control characters, tabs and line breaks with spaces: values come
// from external systems, and an escape sequence must not reach the operator's terminal.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
}

// enumName is an enum value without its type prefix: RUN_STATE_RUNNING → RUNNING.
func enumName(e protoreflect.Enum) string {
	v := e.Descriptor().Values().ByNumber(e.Number())
	if v == nil {
		return fmt.Sprint(e.Number())
	}
	if e.Number() == 0 {
		return "-"
	}
	return strings.TrimPrefix(string(v.Name()), enumPrefix(e.Descriptor()))
}

// enumPrefix is the UPPER_SNAKE prefix buf lint requires of an enum's values, e.g.
// RUN_STATE_ for RunState.
func enumPrefix(d protoreflect.EnumDescriptor) string {
	var b strings.Builder
	for i, r := range string(d.Name()) {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String() + "_"
}

// when formats a time for a table in UTC, to the second; "-" when unset.
func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format("2006-01-02 15:04:05Z")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// lastSegment is the ID of a resource name: runs/abc → abc.
func lastSegment(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}

// duration is the time from start to end, for a run; "" when either is missing.
func duration(start, end *timestamppb.Timestamp) string {
	if start == nil || end == nil {
		return ""
	}
	return end.AsTime().Sub(start.AsTime()).Round(time.Millisecond).String()
}
