// Command storebench writes ingest items straight into a ledger file through the store's
// own ApplyBatch, as the requests service does for each ingest batch, but without gRPC.
// tools/bench runs it as a child (the store is internal to the requests service, so the
// harness cannot call it itself) for two figures:
//
//   - store_rps: the items an import brought, applied to a fresh file in the harvester's
//     batch size: the physical limit of this design on this machine;
//   - a large ledger to measure listing and importing against, filled in minutes instead
//     of an hour of imports: the same items again and again under another profile, each
//     round with its own external ids, so every one is a distinct request.
//
// With -mode raw it writes the same items with a plain bbolt loop instead (each item's
// bytes under a sequence key, one Put each, one durable transaction per batch): the floor
// any ledger on bbolt stands on, as raw_rps. With -mode migrate it rewrites the ledger
// file -db in the previous schema's layout (store.WriteSchema3) and times opening it,
// which migrates it.
//
// It reads length-delimited IngestItems (protodelim) and prints one JSON object: the
// items applied, their outcomes and the seconds ApplyBatch (or the raw writes, or the
// migration) took.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// Result is what storebench prints.
type Result struct {
	Items     int     `json:"items"`
	Created   int     `json:"created"`
	Updated   int     `json:"updated"`
	Unchanged int     `json:"unchanged"`
	Rejected  int     `json:"rejected"`
	Seconds   float64 `json:"seconds"` // inside ApplyBatch only: reading and cloning items is not counted
}

func main() {
	itemsFile := flag.String("items", "", "length-delimited IngestItems to apply (required)")
	dbPath := flag.String("db", "", "ledger file to write; created if missing (required)")
	batch := flag.Int("batch", 1000, "items per ApplyBatch (the harvester's batch size)")
	count := flag.Int("count", 0, "items to apply: the file's items, repeated with fresh external ids as often as needed (0: each once)")
	profile := flag.String("profile", "", "profile name to give every item instead of its own (keeps a fill apart from imports)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	mode := flag.String("mode", "apply", "apply: through ApplyBatch; raw: a plain bbolt loop; migrate: rewrite -db in schema 3 and time its migration")
	flag.Parse()
	server.TuneGC() // the store's collector as in the requests service
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "storebench:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	var err error
	switch *mode {
	case "apply":
		err = run(*itemsFile, *dbPath, *batch, *count, *profile)
	case "raw":
		err = raw(*itemsFile, *dbPath, *batch)
	case "migrate":
		err = migrate(*dbPath)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "storebench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(itemsFile, dbPath string, batch, count int, profile string) error {
	if itemsFile == "" || dbPath == "" {
		return errors.New("-items and -db are required")
	}
	if batch < 1 || batch > store.MaxBatch {
		return fmt.Errorf("-batch must be between 1 and %d", store.MaxBatch)
	}
	items, err := readItems(itemsFile)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return fmt.Errorf("%s holds no items", itemsFile)
	}
	if count <= 0 {
		count = len(items)
	}
	s, err := store.Open(dbPath, store.Options{})
	if err != nil {
		return err
	}
	res := Result{Items: count}
	var elapsed time.Duration
	ctx := context.Background()
	for done := 0; done < count; {
		n := min(batch, count-done)
		b := make([]*requestsv1.IngestItem, n)
		for i := range b {
			b[i] = variant(items, done+i, profile)
		}
		start := time.Now()
		results, err := s.ApplyBatch(ctx, "", b, time.Now())
		elapsed += time.Since(start)
		if err != nil {
			s.Close()
			return fmt.Errorf("batch at item %d: %w", done, err)
		}
		for _, r := range results {
			switch r.GetOutcome() {
			case requestsv1.IngestOutcome_INGEST_OUTCOME_CREATED:
				res.Created++
			case requestsv1.IngestOutcome_INGEST_OUTCOME_UPDATED:
				res.Updated++
			case requestsv1.IngestOutcome_INGEST_OUTCOME_UNCHANGED:
				res.Unchanged++
			default:
				res.Rejected++
			}
		}
		done += n
	}
	if err := s.Close(); err != nil {
		return err
	}
	res.Seconds = elapsed.Seconds()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// variant is the i-th item to apply: items[i mod len], from the second round on with an
// external id of its own (the round appended), and under profile when one is given.
func variant(items []*requestsv1.IngestItem, i int, profile string) *requestsv1.IngestItem {
	it := items[i%len(items)]
	round := i / len(items)
	if round == 0 && profile == "" {
		return it
	}
	it = proto.CloneOf(it)
	ref := it.GetExternalReference()
	if round > 0 {
		ref.ExternalId += "-r" + strconv.Itoa(round)
	}
	if profile != "" {
		ref.Profile = profile
	}
	return it
}

// raw writes every item once with a plain bbolt loop, batch items per durable
// transaction, and reports them all as created.
func raw(itemsFile, dbPath string, batch int) error {
	if itemsFile == "" || dbPath == "" {
		return errors.New("-items and -db are required")
	}
	items, err := readItems(itemsFile)
	if err != nil {
		return err
	}
	values := make([][]byte, len(items))
	for i, it := range items {
		if values[i], err = proto.Marshal(it); err != nil {
			return err
		}
	}
	db, err := bolt.Open(dbPath, 0o600, nil)
	if err != nil {
		return err
	}
	name := []byte("records")
	var elapsed time.Duration
	for done := 0; done < len(values); done += batch {
		start := time.Now()
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			for i := done; i < min(done+batch, len(values)); i++ {
				if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(i+1)), values[i]); err != nil {
					return err
				}
			}
			return nil
		})
		elapsed += time.Since(start)
		if err != nil {
			db.Close()
			return err
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(Result{Items: len(values), Created: len(values), Seconds: elapsed.Seconds()})
}

// migrate rewrites the ledger at dbPath in schema 3 and times opening it (the migration).
func migrate(dbPath string) error {
	if dbPath == "" {
		return errors.New("-db is required")
	}
	if err := store.WriteSchema3(dbPath); err != nil {
		return err
	}
	start := time.Now()
	s, err := store.Open(dbPath, store.Options{})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	c, err := s.Count("")
	if err := errors.Join(err, s.Close()); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(Result{Items: int(c.Total), Created: int(c.Total), Seconds: elapsed.Seconds()})
}

func readItems(path string) ([]*requestsv1.IngestItem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var items []*requestsv1.IngestItem
	for {
		it := &requestsv1.IngestItem{}
		err := protodelim.UnmarshalFrom(r, it)
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s, item %d: %w", path, len(items), err)
		}
		items = append(items, it)
	}
}
