package emulator

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// store keeps the hub's state on disk under Options.DataDir, in one bbolt
// file: identities with their keys, twins, versions and etags; the etag
// counter; the shared access policies' keys. bbolt commits each write
// transaction with an fsync and never overwrites committed pages, so a
// process killed at any moment (kill -9) reopens at its last commit; the
// registry commits before it answers, so nothing acknowledged is lost.
//
// Every record carries a CRC32C of its JSON, and Open checks the whole file
// (bbolt's page consistency check, then every record's checksum and shape):
// a torn or corrupt file stops the start with an error that names the file
// and the record, rather than being loaded in part.
type store struct {
	db   *bolt.DB
	path string
}

// storeFile is the name of the file under Options.DataDir.
const storeFile = "hub.db"

// storeFormat is the layout version this code reads and writes; a file of
// another version is refused, not guessed at.
const storeFormat = "1"

var (
	bucketMeta    = []byte("meta")
	bucketDevices = []byte("devices")
	keyFormat     = []byte("format")
	keyETagSeq    = []byte("etagSeq")
	keyPolicies   = []byte("policies")
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openStore opens (or creates) the store under dir and checks it whole. A
// second emulator on the same directory is refused: bbolt holds an
// exclusive lock on the file.
func openStore(dir string) (s *store, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, storeFile)
	// bbolt panics on some damaged files rather than returning an error;
	// either way the file is not loaded.
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("%s is corrupt: %v", path, p)
		}
	}()
	if err := checkStoreFile(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("%s is in use by another process (an emulator already runs on this data dir)", path)
	case err != nil:
		return nil, fmt.Errorf("%s cannot be opened (torn or corrupt?): %w", path, err)
	}
	s = &store{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init creates the buckets of a new file, or checks an existing one.
func (s *store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("%s is corrupt: %w", s.path, err)
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketDevices); err != nil {
			return err
		}
		switch f := meta.Get(keyFormat); {
		case f == nil:
			return putRecord(meta, keyFormat, storeFormat)
		default:
			var got string
			if err := s.decode(bucketMeta, keyFormat, f, &got); err != nil {
				return err
			}
			if got != storeFormat {
				return fmt.Errorf("%s has format %q; this emulator reads format %q", s.path, got, storeFormat)
			}
		}
		return nil
	})
}

func (s *store) close() error { return s.db.Close() }

// putRecord writes v as a record: a CRC32C of the JSON, then the JSON.
func putRecord(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec := make([]byte, 4+len(data))
	binary.BigEndian.PutUint32(rec, crc32.Checksum(data, crcTable))
	copy(rec[4:], data)
	return b.Put(key, rec)
}

// decode checks a record's checksum and decodes its JSON into v, with
// numbers as json.Number as the registry holds them.
func (s *store) decode(bucket, key, rec []byte, v any) error {
	if len(rec) < 4 || binary.BigEndian.Uint32(rec) != crc32.Checksum(rec[4:], crcTable) {
		return fmt.Errorf("%s is corrupt: record %s/%q fails its checksum", s.path, bucket, key)
	}
	if err := decodeJSON(rec[4:], v); err != nil {
		return fmt.Errorf("%s is corrupt: record %s/%q: %w", s.path, bucket, key, err)
	}
	return nil
}

// load reads everything: the devices, the etag counter (0 when the file is
// new) and the stored policy keys (nil when none were stored yet).
func (s *store) load() (devices map[string]*deviceEntry, etagSeq uint64, policyKeys map[string]storedKeys, err error) {
	devices = map[string]*deviceEntry{}
	err = s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if rec := meta.Get(keyETagSeq); rec != nil {
			var seq string
			if err := s.decode(bucketMeta, keyETagSeq, rec, &seq); err != nil {
				return err
			}
			if etagSeq, err = strconv.ParseUint(seq, 10, 64); err != nil {
				return fmt.Errorf("%s is corrupt: etag counter %q", s.path, seq)
			}
		}
		if rec := meta.Get(keyPolicies); rec != nil {
			if err := s.decode(bucketMeta, keyPolicies, rec, &policyKeys); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketDevices).ForEach(func(k, rec []byte) error {
			var sd storedDevice
			if err := s.decode(bucketDevices, k, rec, &sd); err != nil {
				return err
			}
			if sd.ID != string(k) {
				return fmt.Errorf("%s is corrupt: record devices/%q holds device %q", s.path, k, sd.ID)
			}
			devices[sd.ID] = sd.entry()
			return nil
		})
	})
	return devices, etagSeq, policyKeys, err
}

// loadDevice reads one device back, nil when the store has none: what the
// registry restores when a write could not be committed.
func (s *store) loadDevice(id string) (*deviceEntry, error) {
	var d *deviceEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		rec := tx.Bucket(bucketDevices).Get([]byte(id))
		if rec == nil {
			return nil
		}
		var sd storedDevice
		if err := s.decode(bucketDevices, []byte(id), rec, &sd); err != nil {
			return err
		}
		d = sd.entry()
		return nil
	})
	return d, err
}

// saveDevice commits one device with its modules and twins (nil d: the
// device is deleted) and the etag counter, in one durable transaction.
func (s *store) saveDevice(id string, d *deviceEntry, etagSeq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := putRecord(tx.Bucket(bucketMeta), keyETagSeq, strconv.FormatUint(etagSeq, 10)); err != nil {
			return err
		}
		devices := tx.Bucket(bucketDevices)
		if d == nil {
			return devices.Delete([]byte(id))
		}
		return putRecord(devices, []byte(id), storedDeviceOf(d))
	})
}

// savePolicies commits the shared access policies' keys.
func (s *store) savePolicies(keys map[string]storedKeys) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return putRecord(tx.Bucket(bucketMeta), keyPolicies, keys)
	})
}

// keptState is what a data dir holds from an earlier run.
type keptState struct {
	devices    map[string]*deviceEntry
	etagSeq    uint64
	policyKeys map[string]storedKeys
}

// openAndLoad opens the store under dir and reads all it keeps.
func openAndLoad(dir string) (*store, keptState, error) {
	s, err := openStore(dir)
	if err != nil {
		return nil, keptState{}, err
	}
	var k keptState
	if k.devices, k.etagSeq, k.policyKeys, err = s.load(); err != nil {
		s.close()
		return nil, keptState{}, err
	}
	return s, k, nil
}
