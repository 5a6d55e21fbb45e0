package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestInbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, p := range []string{"NP", "NPX", "NP", "N"} {
		if _, err := s.PutInbox(p, InboxItem{ExternalID: string(rune('a' + i)), Received: now, Message: []byte("<order/>")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutInbox("", InboxItem{}); err == nil {
		t.Fatal("an empty profile code was accepted")
	}
	// Durable: the messages survive a reopen.
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Inbox("NP", 0, 10)
	if err != nil || len(got) != 2 || got[0].ExternalID != "a" || got[1].ExternalID != "c" || !got[0].Received.Equal(now) || string(got[1].Message) != "<order/>" {
		t.Fatalf("inbox of NP = %+v, %v", got, err)
	}
	if page, _ := s.Inbox("NP", got[0].Seq, 10); len(page) != 1 || page[0].Seq != got[1].Seq {
		t.Fatalf("after %d: %+v", got[0].Seq, page)
	}
	if page, _ := s.Inbox("NP", 0, 1); len(page) != 1 || page[0].ExternalID != "a" {
		t.Fatalf("limit 1: %+v", page)
	}
	if err := s.DeleteInbox("NP", []uint64{got[0].Seq, 999}); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.Inbox("NP", 0, 10); len(left) != 1 || left[0].ExternalID != "c" {
		t.Fatalf("after delete: %+v", left)
	}
	if other, _ := s.Inbox("NPX", 0, 10); len(other) != 1 || other[0].ExternalID != "b" {
		t.Fatalf("NPX = %+v", other)
	}
}

func TestInboxIsBounded(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.inboxLimit = 5
	for i := 0; i < s.inboxLimit; i++ {
		if _, err := s.PutInbox("NP", InboxItem{ExternalID: "x"}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if _, err := s.PutInbox("NP", InboxItem{ExternalID: "over"}); !errors.Is(err, ErrInboxFull) {
		t.Fatalf("message over the bound: %v", err)
	}
	if _, err := s.PutInbox("OTHER", InboxItem{ExternalID: "y"}); err != nil {
		t.Fatalf("another profile's inbox is separate: %v", err)
	}
}

// TestInboxKeys: a message's key is taken once per profile, also after a run drained the
// message and across a reopen, until InboxKeyRetention has passed; a message refused
// for a full inbox does not take its key.
func TestInboxKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	put := func(profile, key string, at time.Time) error {
		_, err := s.PutInbox(profile, InboxItem{ExternalID: "o", Key: key, Received: at, Message: []byte("<order/>")})
		return err
	}
	if err := put("NP", "u1", now); err != nil {
		t.Fatal(err)
	}
	if err := put("NP", "u1", now); !errors.Is(err, ErrInboxDuplicate) {
		t.Fatalf("the same key again: %v", err)
	}
	if err := put("NPX", "u1", now); err != nil {
		t.Fatalf("another profile's keys are separate: %v", err)
	}
	if err := put("NP", "", now); err != nil || put("NP", "", now) != nil {
		t.Fatalf("messages without a key are all stored: %v", err)
	}
	items, _ := s.Inbox("NP", 0, 10)
	if len(items) != 3 || items[0].Key != "u1" {
		t.Fatalf("inbox of NP = %+v", items)
	}
	seqs := []uint64{items[0].Seq, items[1].Seq, items[2].Seq}
	if err := s.DeleteInbox("NP", seqs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := put("NP", "u1", now.Add(InboxKeyRetention-time.Second)); !errors.Is(err, ErrInboxDuplicate) {
		t.Fatalf("the key after the message was drained and the store reopened: %v", err)
	}
	if err := put("NP", "u1", now.Add(InboxKeyRetention+time.Second)); err != nil {
		t.Fatalf("the key after its retention: %v", err)
	}
	s.inboxLimit = 1 // u1 is in it
	if err := put("NP", "u2", now.Add(InboxKeyRetention+time.Second)); !errors.Is(err, ErrInboxFull) {
		t.Fatalf("over the bound: %v", err)
	}
	s.inboxLimit = 10
	if err := put("NP", "u2", now.Add(InboxKeyRetention+time.Second)); err != nil {
		t.Fatalf("a key refused with a full inbox was taken: %v", err)
	}
}
