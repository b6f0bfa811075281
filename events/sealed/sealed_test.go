package sealed

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

func TestSealOpenAndRotate(t *testing.T) {
	dir := t.TempDir()
	ring, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	first := ring.Current()
	old, err := Seal(first, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(old.Data, []byte("s3cret")) {
		t.Fatal("the box holds the value in the clear")
	}
	if _, err := ring.Rotate(); err != nil {
		t.Fatal(err)
	}
	if ring.Current().ID == first.ID {
		t.Fatal("rotate kept the current key")
	}
	again, err := LoadOrCreate(dir) // read back from the file
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Open(old)
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("open a box of the old key after rotation = %q, %v", got, err)
	}
	fi, err := os.Stat(again.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file mode = %v, %v; want 0600", fi.Mode(), err)
	}

	other, _ := NewKeyPair()
	foreign, _ := Seal(other.Public, []byte("x"))
	if _, err := again.Open(foreign); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("open a box of a foreign key: %v, want ErrUnknownKey", err)
	}
	tampered := old
	tampered.Data = append([]byte(nil), old.Data...)
	tampered.Data[len(tampered.Data)-1] ^= 1
	if _, err := again.Open(tampered); err == nil {
		t.Fatal("a tampered box opened")
	}
	pk, err := ParsePublicKey(ring.Current().String())
	if err != nil || pk.ID != ring.Current().ID {
		t.Fatalf("ParsePublicKey(String()) = %v, %v", pk, err)
	}
	if _, err := ParsePublicKey(first.ID + ":" + ring.Current().String()[len(first.ID)+1:]); err == nil && first.ID != ring.Current().ID {
		t.Fatal("a public key whose id does not match was accepted")
	}
}
