// Package store keeps the ledger of borrowing requests in one bbolt file: the records,
// their (profile, external id) identity, the secondary indexes List walks, the audit trail
// of every request and the ledger-wide change log that WatchBorrowingRequests replays.
// Every change goes through one function (commit), which in the same transaction stamps
// the record, moves its identity, index entries and counts, appends the audit event and
// appends the change-log entry, so a record, its indexes, its history and the change
// stream never disagree.
package store

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// Collection IDs: the first segment of the resource names the ledger stores or refers to,
// as the API declares them.
var (
	CollectionID       = resource.Collection((*requestsv1.BorrowingRequest)(nil))
	ProfilesCollection = resource.Collection((*profilesv1.IntegrationProfile)(nil))
	PartnersCollection = resource.Collection((*mappingv1.Partner)(nil))
)

// EventsCollection is the collection of a request's events under its name
// (`borrowingRequests/{id}/events/{position}`).
const EventsCollection = "events"

// Actors of the changes the ledger makes on its own behalf (API callers are named by
// their authenticated principal).
const (
	ActorHarvester = "harvester" // an import through IngestService
	actorExternal  = "external"  // prefix of "external:<SYSTEM>": an external status update
)

// Audit-trail action names beside the lifecycle actions' (lifecycle.Name).
const (
	EventImport         = "import"
	EventExternalUpdate = "external_update"
)

// DefaultChangeRetention is how long the change log keeps a change: a watcher may
// reconnect this long after the last position it received.
const DefaultChangeRetention = 7 * 24 * time.Hour

// The buckets and schema version, declared once. Keys and values:
//
//	requests      id (8-byte big-endian, from NextSequence) → BorrowingRequest
//	by_external   profile name + 0x00 + external id → id: the unique identity
//	post_*        an index's postings (postings.go): [value + 0x00 +] inverted time (8 bytes)
//	              → the ids indexed under that value at that time
//	word_recent   the newest search-word postings, inverted time + word → ids, until they
//	              are merged into word_mid or post_word (recentwords.go)
//	word_mid      search-word postings merged from word_recent, keyed as post_word, until
//	              they are merged into post_word
//	index_values  id → the values the request is indexed and counted under (values.go)
//	index_counts  index name + 0x00 + value → entries (8-byte big-endian)
//	events        id + position (8 bytes each) → RequestEvent: a request's audit trail
//	changes       position (8 bytes; the bucket's sequence is the latest) → change entry
//	meta          (platform/boltdb's) "database_id" → 8 random bytes, set once
//
// An index entry is a posting's key followed by one of its ids: the inverted time (MaxUint64
// − Unix nanoseconds) makes a forward walk newest first, and the id after it breaks ties,
// so every entry is unique. Indexed values never contain 0x00 (codes, names, external ids
// and search words are validated or built so), so one value's prefix never matches
// another's. index_counts lets List pick the index with the fewest entries and answers
// CountBorrowingRequests; search words are not counted (List counts a word's entries
// in its postings when it has to choose).
//
// The queries each index serves:
//
//	post_all                 List without a filter that has an index; Count (total)
//	post_open                List open_only; Count (open, via the statuses)
//	post_status              List by status; Count by status
//	post_owner               List by owner; Count of one owner (total)
//	post_partner             List by partner
//	post_profile             List by profile; the profiles an external id is looked up in
//	post_created             List ordered by create time
//	post_identifiable(_owner)  AnonymizeOld (all owners, one owner)
//	post_attention           List needs_attention: the exception queue; Count
//	post_word                List by search words (uncounted)
//	cnt_owner_status, cnt_owner_attention  (counts only) Count of one owner
//
// List by external id looks the id up in by_external under each profile, so it needs no
// index of its own.
//
// Schema 2 added events, changes and the indexes created, identifiable, attention and word,
// and the count-only owner counts; schema 3 added index_values, the owner-keyed
// identifiable index and external_partner on the records; schema 4 stores each index as
// postings (schema 3 and before: one key per entry, in idx_* buckets) and drops the
// external-id index; schema 5 stops counting search words and adds word_recent; schema
// 6 adds word_mid. migrate converts older files.
var (
	bucketRequests    = []byte("requests")
	bucketByExternal  = []byte("by_external")
	bucketIndexValues = []byte("index_values")
	bucketCounts      = []byte("index_counts")
	bucketEvents      = []byte("events")
	bucketChanges     = []byte("changes")
	// bucketMeta is platform/boltdb's bucket (it keeps the schema version there); the
	// ledger adds its database id.
	bucketMeta    = []byte("meta")
	keyDatabaseID = []byte("database_id")

	idxAll = &index{id: 1, name: []byte("idx_all"), bucket: []byte("post_all"), entries: true, counted: true,
		values: func(*requestsv1.BorrowingRequest) []string { return all }}
	idxOpen = &index{id: 2, name: []byte("idx_open"), bucket: []byte("post_open"), entries: true, counted: true,
		values: func(r *requestsv1.BorrowingRequest) []string { return when(!lifecycle.Final(r.GetStatus())) }}
	idxStatus = &index{id: 3, name: []byte("idx_status"), bucket: []byte("post_status"), entries: true, keyed: true, counted: true,
		values: func(r *requestsv1.BorrowingRequest) []string { return one(statusValue(r.GetStatus())) }}
	idxOwner = &index{id: 4, name: []byte("idx_owner"), bucket: []byte("post_owner"), entries: true, keyed: true, counted: true,
		values: func(r *requestsv1.BorrowingRequest) []string { return one(r.GetOwner()) }}
	idxPartner = &index{id: 5, name: []byte("idx_partner"), bucket: []byte("post_partner"), entries: true, keyed: true, counted: true,
		values: func(r *requestsv1.BorrowingRequest) []string { return one(r.GetPartner()) }}
	idxProfile = &index{id: 6, name: []byte("idx_profile"), bucket: []byte("post_profile"), entries: true, keyed: true, counted: true,
		values: func(r *requestsv1.BorrowingRequest) []string { return one(r.GetExternalReference().GetProfile()) }}
	// The external id's entries are built when listed, from by_external (list.go); id 7
	// names them in List cursors. index_values written before schema 4 may still hold
	// its values: they are skipped (values.go).
	idxExternalID = &index{id: 7, name: []byte("idx_external_id"), keyed: true}
	// Every request by create time, for order_by create_time.
	idxCreated = &index{id: 8, name: []byte("idx_created"), bucket: []byte("post_created"), entries: true, byCreate: true,
		values: func(*requestsv1.BorrowingRequest) []string { return all }}
	// Closed requests that may still hold personal data: never anonymized, or changed
	// (e.g. a note added) since. The bulk anonymization walks it from its age cutoff, so
	// requests already anonymized cost it nothing; for one owner it walks
	// idx_identifiable_owner, so other owners' candidates cost it nothing either.
	idxIdentifiable = &index{id: 9, name: []byte("idx_identifiable"), bucket: []byte("post_identifiable"), entries: true,
		values: func(r *requestsv1.BorrowingRequest) []string { return when(identifiable(r)) }}
	idxIdentifiableOwner = &index{id: 12, name: []byte("idx_identifiable_owner"), bucket: []byte("post_identifiable_owner"), entries: true, keyed: true,
		values: func(r *requestsv1.BorrowingRequest) []string {
			if !identifiable(r) {
				return nil
			}
			return one(r.GetOwner())
		}}
	// The requests flagged for attention: the exception queue.
	idxAttention = &index{id: 10, name: []byte("idx_attention"), bucket: []byte("post_attention"), entries: true, counted: true,
		values: func(r *requestsv1.BorrowingRequest) []string { return when(r.GetNeedsAttention()) }}
	// Search words of title, author, external id, ISBN/ISSN (search.go).
	// Uncounted: a batch shares few words, so their counts were a scattered read and
	// write per word and batch; List estimates a word's entries from its postings
	// (entriesUpTo) instead.
	idxWord = &index{id: 11, name: []byte("idx_word"), bucket: []byte("post_word"), entries: true, keyed: true,
		values: indexWords}
	// Counts only, for CountBorrowingRequests with an owner. (Their ids name them in
	// index_values.)
	cntOwnerStatus = &index{id: 13, name: []byte("cnt_owner_status"), counted: true,
		values: func(r *requestsv1.BorrowingRequest) []string {
			return one(ownerStatusValue(r.GetOwner(), r.GetStatus()))
		}}
	cntOwnerAttention = &index{id: 14, name: []byte("cnt_owner_attention"), counted: true,
		values: func(r *requestsv1.BorrowingRequest) []string {
			if !r.GetNeedsAttention() {
				return nil
			}
			return one(r.GetOwner())
		}}

	indexes = []*index{idxAll, idxOpen, idxStatus, idxOwner, idxPartner, idxProfile,
		idxCreated, idxIdentifiable, idxAttention, idxWord, cntOwnerStatus, cntOwnerAttention, idxIdentifiableOwner}
	// retiredIndexes are index ids older files may still name in index_values.
	retiredIndexes = []*index{idxExternalID}

	schema = boltdb.Schema{Service: "requests", Version: 6, Buckets: buckets(), Migrate: migrate}

	all = []string{""}
)

func buckets() [][]byte {
	b := [][]byte{bucketRequests, bucketByExternal, bucketIndexValues, bucketCounts, bucketEvents, bucketChanges, bucketRecentWords, bucketMidWords}
	for _, ix := range indexes {
		if ix.entries {
			b = append(b, ix.bucket)
		}
	}
	return b
}

// Options tune a store; the zero value is the default.
type Options struct {
	// ChangeRetention is how long the change log keeps a change (0: DefaultChangeRetention).
	ChangeRetention time.Duration
}

// Store is the ledger's bbolt file.
type Store struct {
	db *bolt.DB
	// counts gathers the count changes of the write transaction in progress (set by
	// update; bbolt runs one write transaction at a time).
	counts    *countCache
	postings  *postingCache // the index changes of that transaction, likewise
	dbID      uint64        // this database's id (meta database_id): it names its change positions
	retention time.Duration
	feed      feed
	// afterItem, when set (tests only), runs inside the batch transaction after each
	// item; an error aborts the batch, which proves a batch is all or nothing.
	afterItem func(item int) error
}

// Open opens (creating or upgrading if needed) the store at path.
func Open(path string, o Options) (*Store, error) {
	db, err := boltdb.Open(path, schema)
	if err != nil {
		return nil, err
	}
	if o.ChangeRetention <= 0 {
		o.ChangeRetention = DefaultChangeRetention
	}
	dbID, err := databaseID(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: database id: %w", path, err)
	}
	return &Store{db: db, dbID: dbID, retention: o.ChangeRetention}, nil
}

// databaseID returns the file's database id, choosing it (at random, never 0) the first
// time. Change positions carry it, so a position from another ledger is refused instead
// of being read as one of ours.
func databaseID(db *bolt.DB) (uint64, error) {
	var id uint64
	err := db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("no meta bucket")
		}
		if v := meta.Get(keyDatabaseID); v != nil {
			if len(v) != 8 || binary.BigEndian.Uint64(v) == 0 {
				return fmt.Errorf("corrupt database id %x", v)
			}
			id = binary.BigEndian.Uint64(v)
			return nil
		}
		for id == 0 {
			var b [8]byte
			if _, err := rand.Read(b[:]); err != nil {
				return err
			}
			id = binary.BigEndian.Uint64(b[:])
		}
		return meta.Put(keyDatabaseID, boltdb.Uint64Key(id))
	})
	return id, err
}

// DatabaseID is this database's id, as change positions name it.
func (s *Store) DatabaseID() string { return formatDatabaseID(s.dbID) }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Name is the resource name of the request with id.
func Name(id uint64) string { return resource.Name(CollectionID, strconv.FormatUint(id, 10)) }

// EventName is the resource name of the event at position pos of request id.
func EventName(id, pos uint64) string {
	return Name(id) + "/" + EventsCollection + "/" + strconv.FormatUint(pos, 10)
}

// ParseID returns the numeric ID in the ID segment of a name. Only the canonical form (a
// positive decimal without leading zeros) is accepted, so one request has one name.
func ParseID(id string) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatUint(n, 10) == id
}

// Get returns the request with id, or ErrNotFound.
func (s *Store) Get(id uint64) (*requestsv1.BorrowingRequest, error) {
	var out *requestsv1.BorrowingRequest
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = load(tx, id)
		return err
	})
	return out, err
}

// load reads the request with id; proto.Unmarshal copies, so the result outlives tx.
func load(tx *bolt.Tx, id uint64) (*requestsv1.BorrowingRequest, error) {
	return loadFields(tx, id, nil)
}

// loadFields is load decoding only the top-level fields in keep (decodeFields).
func loadFields(tx *bolt.Tx, id uint64, keep *fieldSet) (*requestsv1.BorrowingRequest, error) {
	v := tx.Bucket(bucketRequests).Get(boltdb.Uint64Key(id))
	if v == nil {
		return nil, ErrNotFound
	}
	r := &requestsv1.BorrowingRequest{}
	if err := decodeFields(v, keep, r); err != nil {
		return nil, fmt.Errorf("decode borrowing request %d: %w", id, err)
	}
	return r, nil
}

// indexed reads the request an index entry (or a change) points at. A dangling entry is
// a bug, not a missing request, so it is an internal error.
func indexed(tx *bolt.Tx, id uint64) (*requestsv1.BorrowingRequest, error) {
	return indexedFields(tx, id, nil)
}

// indexedFields is indexed decoding only the top-level fields in keep.
func indexedFields(tx *bolt.Tx, id uint64, keep *fieldSet) (*requestsv1.BorrowingRequest, error) {
	r, err := loadFields(tx, id, keep)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("an index entry points at no borrowing request (id %d)", id)
	}
	return r, err
}

// idOf decodes an 8-byte id stored as a value or at the end of an index key. A shorter
// one means a damaged file: an error, never a panic.
func idOf(b []byte) (uint64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("corrupt ledger key or id %x", b)
	}
	return binary.BigEndian.Uint64(b[len(b)-8:]), nil
}

// externalKey is the by_external key of an identity. Profile names hold no 0x00, so the
// key splits unambiguously.
func externalKey(profile, externalID string) []byte {
	k := make([]byte, 0, len(profile)+1+len(externalID))
	return append(append(append(k, profile...), 0), externalID...)
}

// identifiable reports whether a closed request may still hold personal data: it was
// never anonymized, or changed since (commit stamps an anonymized request's update time
// equal to its anonymize time).
func identifiable(r *requestsv1.BorrowingRequest) bool {
	if !lifecycle.Final(r.GetStatus()) {
		return false
	}
	at := r.GetAnonymizeTime()
	return at == nil || !at.AsTime().Equal(r.GetUpdateTime().AsTime())
}

// setStatus moves r (which had status from) to status to, keeping closed_from_status:
// the status a request closed from, cleared when it opens again.
func setStatus(r *requestsv1.BorrowingRequest, from, to requestsv1.Status) {
	r.Status = to
	switch {
	case !lifecycle.Final(to):
		r.ClosedFromStatus = requestsv1.Status_STATUS_UNSPECIFIED
	case !lifecycle.Final(from):
		r.ClosedFromStatus = from
	}
}

// update runs fn in a write transaction and, once it has committed a change, wakes the
// change-log watchers. With dryRun the transaction is rolled back after fn succeeds, so
// a caller sees exactly what fn would do, and nothing is written. The transaction merges
// word_recent on (into word_mid or post_word) when it holds more than mergeAbove
// transactions' postings (maxRecentTimes for ingest, maxRecentTimesAny for the rest:
// recentwords.go).
func (s *Store) update(dryRun bool, mergeAbove int, fn func(tx *bolt.Tx) error) error {
	changed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		s.counts, s.postings = newCountCache(tx), newPostingCache(tx)
		defer func() { s.counts, s.postings = nil, nil }()
		for _, name := range appendedBuckets {
			tx.Bucket(name).FillPercent = appendedFill
		}
		before := tx.Bucket(bucketChanges).Sequence()
		if err := fn(tx); err != nil {
			return err
		}
		if err := s.postings.flush(); err != nil {
			return err
		}
		if err := s.counts.flush(); err != nil {
			return err
		}
		if dryRun {
			return errDryRun // before the merge: it would be rolled back with the rest
		}
		if err := mergeRecentWords(tx, mergeAbove); err != nil {
			return err
		}
		changed = tx.Bucket(bucketChanges).Sequence() != before
		return nil
	})
	if dryRun && errors.Is(err, errDryRun) {
		return nil
	}
	if err == nil && changed {
		s.feed.publish()
	}
	return err
}

// appendedBuckets grow at their end: their keys start with an id from NextSequence (a
// new request's record, index values and first event) or are the change log's next
// position. bbolt splits a full page in half by default, which suits keys arriving in
// random order but leaves every page of an appended bucket half empty: twice the pages
// to write at each commit and to keep in the file. Filled to appendedFill instead, they
// stay dense; the few writes in the middle (an older request's next event) split a page
// once, as before.
// word_recent grows at its start instead (keys begin with an inverted time), one
// transaction's keys at a time, and is filled densely alike.
var appendedBuckets = [][]byte{bucketRequests, bucketIndexValues, bucketEvents, bucketChanges, bucketRecentWords}

const appendedFill = 0.95

// errDryRun rolls a dry-run transaction back.
var errDryRun = errors.New("dry run")

// commit is the one place records change; call it inside update, whose count cache it
// fills. It stores next under id, replacing old (nil on create): it stamps next (name,
// times, etag), moves the identity, every index entry and every count, appends ev to the
// request's audit trail and appends the change to the change log, whose new position
// names the event. It returns that position. words are next's search words when
// already split (Prepare), else nil.
//
// The entries and counts removed are the ones stored in index_values when old was
// written, not old's values computed again: a change in how values are computed (word
// splitting, say) can then never leave an entry or a count behind.
func (s *Store) commit(tx *bolt.Tx, id uint64, old, next *requestsv1.BorrowingRequest, ev *requestsv1.RequestEvent, now time.Time, words []string) (uint64, error) {
	v, err := resource.StampEncode(next, Name(id), now, old == nil)
	if err != nil {
		return 0, fmt.Errorf("encode borrowing request %d: %w", id, err)
	}
	var before indexValues
	if old != nil {
		var err error
		if before, err = loadValues(tx, id); err != nil {
			return 0, err
		}
	}
	after := valuesWithWords(next, words)
	for _, ix := range indexes {
		if err := ix.move(s.postings, s.counts, id, old, next, before[ix.id], after[ix.id]); err != nil {
			return 0, err
		}
	}
	if err := putValues(tx, id, after); err != nil {
		return 0, err
	}
	key := boltdb.Uint64Key(id)
	if old == nil {
		ref := next.GetExternalReference()
		if err := tx.Bucket(bucketByExternal).Put(externalKey(ref.GetProfile(), ref.GetExternalId()), key); err != nil {
			return 0, err
		}
	}
	if err := tx.Bucket(bucketRequests).Put(key, v); err != nil {
		return 0, err
	}

	changes := tx.Bucket(bucketChanges)
	pos, err := changes.NextSequence()
	if err != nil {
		return 0, err
	}
	ev.Name, ev.Time = EventName(id, pos), timestamppb.New(now)
	ev.FromStatus, ev.ToStatus = old.GetStatus(), next.GetStatus()
	if err := putEvent(tx, id, pos, ev); err != nil {
		return 0, err
	}
	entry := changeEntry{time: now, id: id, from: old.GetStatus(), to: next.GetStatus(), ownerBefore: old.GetOwner(), ownerAfter: next.GetOwner()}
	if err := changes.Put(boltdb.Uint64Key(pos), entry.encode()); err != nil {
		return 0, err
	}
	return pos, prune(changes, now.Add(-s.retention))
}

func eventKey(id, pos uint64) []byte { return append(boltdb.Uint64Key(id), boltdb.Uint64Key(pos)...) }

func putEvent(tx *bolt.Tx, id, pos uint64, ev *requestsv1.RequestEvent) error {
	v, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %d of borrowing request %d: %w", pos, id, err)
	}
	return tx.Bucket(bucketEvents).Put(eventKey(id, pos), v)
}

// index is one secondary index: an entry per request and value, in postings (postings.go)
// keyed, for keyed indexes, by value + 0x00, then the inverted update (or create) time,
// so a prefix walk lists one value's requests newest first. A count-only index keeps no
// entries, only counts per value.
type index struct {
	id       byte   // names the index in List cursors and index_values; never reuse a retired id
	name     []byte // the index's name in index_counts
	bucket   []byte // its postings' bucket (entries only)
	entries  bool   // false: counts only
	keyed    bool   // entries start with value + 0x00
	counted  bool   // index_counts holds its entries per value
	byCreate bool   // ordered by create time instead of update time
	// values returns the request's indexed values, without duplicates; none when the
	// index leaves it out.
	values func(*requestsv1.BorrowingRequest) []string
}

func one(v string) []string { return []string{v} }

func when(in bool) []string {
	if in {
		return all
	}
	return nil
}

// prefix is the key prefix of value's entries (nil for unkeyed indexes: all entries).
func (ix *index) prefix(value string) []byte {
	if !ix.keyed {
		return nil
	}
	return append([]byte(value), 0)
}

// postingKey is the key of the posting that holds value's entry for request r: the
// prefix, then the inverted update (or create) time.
func (ix *index) postingKey(value string, r *requestsv1.BorrowingRequest) []byte {
	return ix.appendPostingKey(make([]byte, 0, len(value)+1+8), value, r)
}

// appendPostingKey appends postingKey(value, r) to k.
func (ix *index) appendPostingKey(k []byte, value string, r *requestsv1.BorrowingRequest) []byte {
	t := r.GetUpdateTime()
	if ix.byCreate {
		t = r.GetCreateTime()
	}
	if ix.keyed {
		k = append(append(k, value...), 0)
	}
	return boltdb.AppendReverseTime(k, t.AsTime())
}

// key is value's entry for request r (id): its posting's key, then the id.
func (ix *index) key(value string, r *requestsv1.BorrowingRequest, id uint64) []byte {
	return binary.BigEndian.AppendUint64(ix.postingKey(value, r), id)
}

// move replaces old's entries (if any), written under the values before, by next's under
// the values after, and counts values that appear or disappear. The old entries are
// removed first, so an unchanged entry survives.
func (ix *index) move(postings *postingCache, counts *countCache, id uint64, old, next *requestsv1.BorrowingRequest, before, after []string) error {
	if old == nil && len(before) > 0 {
		return fmt.Errorf("index %s: values without a record to key them (id %d)", ix.name, id)
	}
	if ix.entries {
		for _, v := range before {
			postings.change(ix, v, old, id, false)
		}
		for _, v := range after {
			postings.change(ix, v, next, id, true)
		}
	}
	if !ix.counted {
		return nil
	}
	for _, v := range before {
		if !slices.Contains(after, v) {
			if err := counts.add(ix, v, -1); err != nil {
				return err
			}
		}
	}
	for _, v := range after {
		if !slices.Contains(before, v) {
			if err := counts.add(ix, v, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

func statusValue(s requestsv1.Status) string { return strconv.Itoa(int(s)) }

func ownerStatusValue(owner string, s requestsv1.Status) string {
	return owner + "\x00" + statusValue(s)
}

// feed wakes watchers of the change log: wait returns a channel that the next committed
// change closes. A watcher takes the channel before it reads the log, so a change
// committed between its read and its wait is never missed.
type feed struct {
	mu sync.Mutex
	ch chan struct{}
}

func (f *feed) wait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch == nil {
		f.ch = make(chan struct{})
	}
	return f.ch
}

func (f *feed) publish() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch != nil {
		close(f.ch)
		f.ch = nil
	}
}
