package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protodelim"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
)

// importResult is one import run as the harvester recorded it.
type importResult struct {
	run     *harvesterv1.Run
	seconds float64       // the run's own start to end
	cpu     time.Duration // CPU time of this process and the child harvester from start to end of importOnce
}

// rps is the requests the run handled per second of its own duration.
func (r importResult) rps() float64 { return float64(r.run.GetCounters().GetFetched()) / r.seconds }

// cpuMicros is the CPU time per request handled, in µs.
func (r importResult) cpuMicros() float64 {
	return float64(r.cpu.Microseconds()) / float64(r.run.GetCounters().GetFetched())
}

// importOnce starts a run of profile on h, waits for it to end, and checks
// that it handled want requests, every one with outcome: a run that skipped or failed
// any would measure something else than an import. pids are the processes whose CPU time
// is counted: this one ("self") and the child harvester when there is one.
func importOnce(ctx context.Context, h harvesterv1.HarvesterServiceClient, profile string, want int, outcome harvesterv1.Outcome, pids ...string) (importResult, error) {
	cpu := func() (time.Duration, error) {
		var sum time.Duration
		for _, pid := range pids {
			t, err := processCPU(pid)
			if err != nil {
				return 0, err
			}
			sum += t
		}
		return sum, nil
	}
	before, err := cpu()
	if err != nil {
		return importResult{}, err
	}
	run, err := testenv.Import(ctx, h, profile)
	if err != nil {
		return importResult{}, err
	}
	after, err := cpu()
	if err != nil {
		return importResult{}, err
	}
	if err := checkRun(run, want, outcome); err != nil {
		return importResult{}, err
	}
	d := run.GetEndTime().AsTime().Sub(run.GetStartTime().AsTime())
	if d <= 0 {
		return importResult{}, fmt.Errorf("run %s has no duration (start %v, end %v)", run.GetName(), run.GetStartTime().AsTime(), run.GetEndTime().AsTime())
	}
	return importResult{run: run, seconds: d.Seconds(), cpu: after - before}, nil
}

// checkRun returns why run is not a clean import of want requests that all had outcome.
func checkRun(run *harvesterv1.Run, want int, outcome harvesterv1.Outcome) error {
	c := run.GetCounters()
	got := map[harvesterv1.Outcome]int64{
		harvesterv1.Outcome_OUTCOME_CREATED:   c.GetCreated(),
		harvesterv1.Outcome_OUTCOME_UPDATED:   c.GetUpdated(),
		harvesterv1.Outcome_OUTCOME_UNCHANGED: c.GetUnchanged(),
	}
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || c.GetFetched() != int64(want) || got[outcome] != int64(want) {
		msg := ""
		for _, a := range run.GetAlerts() {
			msg += "; " + a.GetCode().String() + ": " + a.GetMessage()
		}
		return fmt.Errorf("run %s: %s, fetched %d created %d updated %d unchanged %d skipped %d failed %d; want %d %s%s",
			run.GetName(), run.GetState(), c.GetFetched(), c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetSkipped(), c.GetFailed(),
			want, outcome, msg)
	}
	return nil
}

// exportItems writes the profile's requests from the ledger as the ingest items that
// describe them (length-delimited), ordered by external id as Libris sends them, and
// returns how many it wrote and the statuses they have.
func exportItems(ctx context.Context, rc requestsv1.RequestServiceClient, profile, path string) (int, []requestsv1.Status, error) {
	var items []*requestsv1.IngestItem
	statuses := map[requestsv1.Status]bool{}
	token := ""
	for {
		resp, err := rc.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{Profile: profile, PageSize: 1000, PageToken: token})
		if err != nil {
			return 0, nil, fmt.Errorf("list for export: %w", err)
		}
		for _, r := range resp.GetBorrowingRequests() {
			items = append(items, itemOf(r))
			statuses[r.GetStatus()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	slices.SortFunc(items, func(a, b *requestsv1.IngestItem) int {
		return cmp.Compare(a.GetExternalReference().GetExternalId(), b.GetExternalReference().GetExternalId())
	})
	f, err := os.Create(path)
	if err != nil {
		return 0, nil, err
	}
	w := bufio.NewWriter(f)
	for _, it := range items {
		if _, err := protodelim.MarshalTo(w, it); err != nil {
			f.Close()
			return 0, nil, err
		}
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return 0, nil, err
	}
	out := make([]requestsv1.Status, 0, len(statuses))
	for s := range statuses {
		out = append(out, s)
	}
	slices.Sort(out)
	return len(items), out, nil
}

// itemOf is the ingest item that describes r as the harvester sent it.
func itemOf(r *requestsv1.BorrowingRequest) *requestsv1.IngestItem {
	return &requestsv1.IngestItem{
		ExternalReference: r.GetExternalReference(),
		ExternalStatus:    r.GetExternalStatus(),
		Owner:             r.GetOwner(),
		Partner:           r.GetExternalPartner(),
		Rota:              r.GetRota(),
		Bibliographic:     r.GetBibliographic(),
		Format:            r.GetFormat(),
		Media:             r.GetMedia(),
		Requester:         r.GetRequester(),
		PickupLocation:    r.GetPickupLocation(),
		Note:              r.GetNote(),
	}
}

// storeResult is what services/requests/internal/store/storebench prints.
type storeResult struct {
	Items     int     `json:"items"`
	Created   int     `json:"created"`
	Updated   int     `json:"updated"`
	Unchanged int     `json:"unchanged"`
	Rejected  int     `json:"rejected"`
	Seconds   float64 `json:"seconds"`
}

// storebench runs the storebench binary with args and checks that every item it applied
// created a request.
func storebench(ctx context.Context, bin string, args ...string) (storeResult, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr tailBuffer
	stderr.max = 4096
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return storeResult{}, fmt.Errorf("storebench: %w (%s)", err, stderr.String())
	}
	var r storeResult
	if err := json.Unmarshal(out, &r); err != nil {
		return storeResult{}, fmt.Errorf("storebench output %q: %w", out, err)
	}
	if r.Created != r.Items || r.Seconds <= 0 {
		return r, fmt.Errorf("storebench applied %d items: %d created, %d updated, %d unchanged, %d rejected", r.Items, r.Created, r.Updated, r.Unchanged, r.Rejected)
	}
	return r, nil
}

// listLatencies times samples ListBorrowingRequests calls: pages of 50 filtered by one of
// statuses in turn, each status walked page after page (from the first page again at its
// end), as a person paging through a queue does.
func listLatencies(ctx context.Context, rc requestsv1.RequestServiceClient, statuses []requestsv1.Status, samples int) ([]time.Duration, error) {
	if len(statuses) == 0 {
		return nil, errors.New("no statuses to filter by")
	}
	// One untimed call first: it opens the connection, which is not a list's latency.
	if _, err := rc.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{Status: statuses[0], PageSize: 1}); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	tokens := make([]string, len(statuses))
	out := make([]time.Duration, 0, samples)
	for i := range samples {
		k := i % len(statuses)
		start := time.Now()
		resp, err := rc.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{Status: statuses[k], PageSize: 50, PageToken: tokens[k]})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", statuses[k], err)
		}
		out = append(out, time.Since(start))
		if len(resp.GetBorrowingRequests()) == 0 {
			return nil, fmt.Errorf("list %s: an empty page", statuses[k])
		}
		tokens[k] = resp.GetNextPageToken()
	}
	return out, nil
}

// restLoad is concurrency clients sending GET /v1/borrowingRequests/{id} (random ids of
// 1..maxID) to the gateway for d.
type restLoad struct {
	latencies []time.Duration
	requests  int
	errors    int
	seconds   float64
	firstErr  string
}

func loadREST(ctx context.Context, gateway, token string, maxID, concurrency int, d time.Duration) restLoad {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var res restLoad
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var lat []time.Duration
			var errs int
			first := ""
			for ctx.Err() == nil {
				url := "http://" + gateway + "/v1/borrowingRequests/" + strconv.Itoa(1+rng.IntN(maxID))
				t := time.Now()
				err := getOK(ctx, client, url, token)
				if ctx.Err() != nil {
					break // cut off by the end of the load, not an error of the gateway
				}
				lat = append(lat, time.Since(t))
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if res.firstErr == "" {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.seconds = time.Since(start).Seconds()
	res.requests = len(res.latencies)
	return res
}

func getOK(ctx context.Context, c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body[:min(len(body), 200)]))
	}
	return nil
}

// percentile is the nearest-rank p-th percentile of ds (sorted in place), in ms.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	slices.Sort(ds)
	rank := int(math.Ceil(p / 100 * float64(len(ds))))
	rank = min(max(rank, 1), len(ds))
	return float64(ds[rank-1].Microseconds()) / 1000
}
