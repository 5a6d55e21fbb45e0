package boltdb

import (
	"encoding/binary"
	"fmt"
	"os"
)

// HighWater reads a bbolt file's two meta pages and returns the byte offset past the last
// page in use (the newer meta's high-water page id times the page size): how much of the
// file holds data, where the file's own size only shows what bbolt set aside. It reads
// the file without opening it as a database, so a service may hold it open. Layout
// (bbolt's page and meta structs, little-endian on amd64/arm64): a 16-byte page header,
// then magic, version, page size, flags (4 bytes each), the root bucket (16), the
// freelist page id (8), the high-water page id (8), the transaction id (8).
func HighWater(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	const magic = 0xED0CDAED
	meta := func(off int) (pgid, txid uint64, pageSize uint32, ok bool) {
		if len(b) < off+16+64 {
			return 0, 0, 0, false
		}
		m := b[off+16:]
		if binary.LittleEndian.Uint32(m[0:]) != magic {
			return 0, 0, 0, false
		}
		return binary.LittleEndian.Uint64(m[40:]), binary.LittleEndian.Uint64(m[48:]), binary.LittleEndian.Uint32(m[8:]), true
	}
	pg0, tx0, size, ok0 := meta(0)
	if !ok0 {
		return 0, fmt.Errorf("%s: not a bbolt file", path)
	}
	pg1, tx1, _, ok1 := meta(int(size))
	if ok1 && tx1 > tx0 {
		pg0 = pg1
	}
	return pg0 * uint64(size), nil
}
