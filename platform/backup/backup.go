// Package backup serves interloan.admin.v1.BackupService: a service's bbolt file,
// streamed as a consistent snapshot while the service keeps serving, with its size and
// SHA-256 on the last message; and Fetch, the client side that checks them.
package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
)

// ChunkSize is the size of one streamed chunk: large enough to keep per-message overhead
// small, well under the gRPC message limit.
const ChunkSize = 256 << 10

// Snapshot writes a consistent copy of a data file to w (boltdb.Backup).
type Snapshot func(w io.Writer) (int64, error)

// Service implements BackupService over one Snapshot.
type Service struct {
	adminv1.UnimplementedBackupServiceServer
	snapshot Snapshot
	spoolDir string
}

// NewService serves snapshot, spooled through a temporary file in spoolDir ("" for the
// system's temporary directory; the data directory is the place: same disk, writable).
func NewService(snapshot Snapshot, spoolDir string) *Service {
	return &Service{snapshot: snapshot, spoolDir: spoolDir}
}

// Backup takes the snapshot into a temporary file, which ends its read transaction at
// once, and then streams the file. Streaming straight from the transaction would let a
// client that stops reading hold it open: bbolt cannot grow its memory map while a read
// transaction lives, so the service's writes, and then its reads, would wait for that
// client. The spool costs the snapshot's size in disk for the length of the backup.
func (s *Service) Backup(_ *adminv1.BackupRequest, stream adminv1.BackupService_BackupServer) error {
	f, err := os.CreateTemp(s.spoolDir, ".backup-*")
	if err != nil {
		return fmt.Errorf("backup: spool file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := s.snapshot(f); err != nil {
		return fmt.Errorf("backup: snapshot: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("backup: spool file: %w", err)
	}
	sum := sha256.New()
	var total int64
	for {
		// A fresh buffer per message: gRPC may still read a sent message (stats handlers).
		buf := make([]byte, ChunkSize)
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			sum.Write(buf[:n])
			total += int64(n)
			if err := stream.Send(&adminv1.BackupResponse{Data: buf[:n]}); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("backup: spool file: %w", err)
		}
	}
	return stream.Send(&adminv1.BackupResponse{TotalBytes: total, Sha256: hex.EncodeToString(sum.Sum(nil))})
}

// Receiver is the client side of a Backup stream.
type Receiver interface {
	Recv() (*adminv1.BackupResponse, error)
}

// Fetch copies a Backup stream to w and checks its size and SHA-256 against the last
// message: an error means w holds no usable backup.
func Fetch(stream Receiver, w io.Writer) (int64, error) {
	sum := sha256.New()
	var n int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return n, errors.New("backup: the stream ended without its checksum: the backup is incomplete")
		}
		if err != nil {
			return n, err
		}
		if msg.GetSha256() != "" {
			return n, verify(sum, n, msg)
		}
		if _, err := w.Write(msg.GetData()); err != nil {
			return n, err
		}
		sum.Write(msg.GetData())
		n += int64(len(msg.GetData()))
	}
}

func verify(sum hash.Hash, n int64, last *adminv1.BackupResponse) error {
	if got := hex.EncodeToString(sum.Sum(nil)); got != last.GetSha256() || n != last.GetTotalBytes() {
		return fmt.Errorf("backup: received %d bytes with SHA-256 %s, the service sent %d bytes with %s", n, got, last.GetTotalBytes(), last.GetSha256())
	}
	return nil
}
