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
}

// NewService serves snapshot.
func NewService(snapshot Snapshot) *Service { return &Service{snapshot: snapshot} }

// Backup streams the snapshot. A client that goes away fails the writer, which ends the
// read transaction.
func (s *Service) Backup(_ *adminv1.BackupRequest, stream adminv1.BackupService_BackupServer) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.snapshot(pw)
		pw.CloseWithError(err) // nil: EOF for the reader
		done <- err
	}()
	sum := sha256.New()
	var total int64
	buf := make([]byte, ChunkSize)
	for {
		n, err := io.ReadFull(pr, buf)
		if n > 0 {
			sum.Write(buf[:n])
			total += int64(n)
			if serr := stream.Send(&adminv1.BackupResponse{Data: buf[:n]}); serr != nil {
				pr.CloseWithError(serr)
				<-done
				return serr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			<-done
			return fmt.Errorf("backup: snapshot: %w", err)
		}
	}
	if err := <-done; err != nil {
		return fmt.Errorf("backup: snapshot: %w", err)
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
