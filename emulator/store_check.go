package emulator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// checkStoreFile looks at a bbolt file before bbolt maps it into memory.
// bbolt trusts the page numbers its meta page holds, and reading a page
// past the end of a file cut short is not an error it can return but a
// SIGBUS that kills the process. So the file must be long enough for the
// high-water mark of its newest valid meta page, and the freelist and root
// pages it names must lie below that mark. The layout is bbolt's (v1.4
// internal/common: a 16-byte page header, then magic, version, page size,
// flags, root page and sequence, freelist page, high-water mark, txid and
// an FNV-64a checksum of everything before it), little-endian as on every
// platform this emulator is built for.
func checkStoreFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new data dir
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() == 0 {
		return nil // created, never written: bbolt initialises it
	}
	var best *boltMeta
	for _, off := range []int64{0, -1} { // page 0; page 1 at the page size page 0 gives (or the OS's)
		if off < 0 {
			off = int64(os.Getpagesize())
			if best != nil {
				off = int64(best.pageSize)
			}
		}
		buf := make([]byte, 16+boltMetaSize)
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if m, ok := parseBoltMeta(buf[16:]); ok && (best == nil || m.txid > best.txid) {
			best = &m
		}
	}
	if best == nil {
		return fmt.Errorf("%s is corrupt: no valid bbolt meta page", path)
	}
	need := int64(best.pgid) * int64(best.pageSize)
	switch {
	case info.Size() < need:
		return fmt.Errorf("%s is corrupt: cut short at %d bytes, its last commit needs %d", path, info.Size(), need)
	case best.root >= best.pgid || (best.freelist != noFreelist && best.freelist >= best.pgid):
		return fmt.Errorf("%s is corrupt: its meta page names pages past its end", path)
	}
	return nil
}

const (
	boltMagic    = 0xED0CDAED
	boltVersion  = 2
	boltMetaSize = 64
	noFreelist   = ^uint64(0)
)

type boltMeta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
}

// parseBoltMeta reads a meta page's body; ok is false unless its magic,
// version and checksum are right.
func parseBoltMeta(b []byte) (boltMeta, bool) {
	le := binary.LittleEndian
	if len(b) < boltMetaSize || le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return boltMeta{}, false
	}
	m := boltMeta{pageSize: le.Uint32(b[8:]), root: le.Uint64(b[16:]), freelist: le.Uint64(b[32:]),
		pgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	return m, m.pageSize >= 512
}
