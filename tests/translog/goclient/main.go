// Command tlogclient reads a C2SP tiled transparency log over HTTP with Go's
// golang.org/x/mod/sumdb/note and sumdb/tlog (an implementation independent of the
// server's), and prints one JSON line per check.
//
//	tlogclient -url http://127.0.0.1:PORT -vkey ORIGIN+HASH+KEY [-token T] [-leaf N]... [-old FILE]
//
// It verifies /checkpoint's signature, reads the hash tiles the proofs need (tlog
// checks every tile against the signed root), proves each -leaf's inclusion (with
// -token, from its entry bundle's data: record hash = SHA-256(0x00 || entry)), and with
// -old (an earlier signed note) proves that the current tree extends the old one.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

type leaves []int64

func (l *leaves) String() string { return fmt.Sprint(*l) }
func (l *leaves) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	*l = append(*l, n)
	return err
}

type client struct {
	base, token string
	fetched     []string
}

func (c *client) get(path string, auth bool) ([]byte, error) {
	req, err := http.NewRequest("GET", c.base+"/"+path, nil)
	if err != nil {
		return nil, err
	}
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /%s: %s", path, resp.Status)
	}
	c.fetched = append(c.fetched, path)
	return body, nil
}

// c2spPath turns Go's sumdb tile path "tile/8/L/N[.p/W]" into C2SP's "tile/L/N[.p/W]".
func c2spPath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", height))
}

// tileReader implements tlog.TileReader over HTTP.
type tileReader struct{ c *client }

func (r tileReader) Height() int { return height }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.c.get(c2spPath(t), false)
		if err != nil {
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("tile %s: %d bytes, want %d", c2spPath(t), len(data), t.W*tlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

type checkpoint struct {
	Origin    string
	Tree      tlog.Tree
	Timestamp string
}

func openCheckpoint(text []byte, verifier note.Verifier) (checkpoint, error) {
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return checkpoint{}, errors.New("a checkpoint body is origin, size, root hash and extension lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return checkpoint{}, fmt.Errorf("bad tree size %q", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("bad root hash %q", lines[2])
	}
	var h tlog.Hash
	copy(h[:], raw)
	return checkpoint{lines[0], tlog.Tree{N: size, Hash: h}, strings.TrimPrefix(lines[3], "timestamp ")}, nil
}

func bundleEntry(c *client, tree tlog.Tree, leaf int64) ([]byte, error) {
	n, w := leaf/256, 256
	if (n+1)*256 > tree.N {
		w = int(tree.N - n*256)
	}
	t := tlog.Tile{H: height, L: 0, N: n, W: w}
	path := "tile/entries/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/0/", height))
	data, err := c.get(path, true)
	if err != nil {
		return nil, err
	}
	var entries [][]byte
	for len(data) > 0 {
		if len(data) < 2 || int(binary.BigEndian.Uint16(data))+2 > len(data) {
			return nil, errors.New("malformed entry bundle")
		}
		k := int(binary.BigEndian.Uint16(data))
		entries = append(entries, data[2:2+k])
		data = data[2+k:]
	}
	if len(entries) != w {
		return nil, fmt.Errorf("entry bundle %s: %d entries, want %d", path, len(entries), w)
	}
	return entries[leaf-n*256], nil
}

func emit(doc map[string]any) {
	line, _ := json.Marshal(doc)
	fmt.Println(string(line))
}

func fail(step string, err error) {
	emit(map[string]any{"step": step, "ok": false, "error": err.Error()})
	os.Exit(1)
}

func main() {
	base := flag.String("url", "", "the log's URL prefix")
	vkey := flag.String("vkey", "", "signed-note verifier key")
	token := flag.String("token", "", "auditor token for entry bundles")
	old := flag.String("old", "", "file with an earlier signed checkpoint of the same log")
	var leafs leaves
	flag.Var(&leafs, "leaf", "leaf index to prove (repeatable)")
	flag.Parse()

	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		fail("verifier", err)
	}
	c := &client{base: strings.TrimSuffix(*base, "/"), token: *token}
	text, err := c.get("checkpoint", false)
	if err != nil {
		fail("checkpoint", err)
	}
	cp, err := openCheckpoint(text, verifier)
	if err != nil {
		fail("checkpoint", err)
	}
	emit(map[string]any{"step": "checkpoint", "ok": true, "origin": cp.Origin, "size": cp.Tree.N,
		"root": fmt.Sprintf("%x", cp.Tree.Hash[:]), "timestamp": cp.Timestamp, "note": string(text)})
	hashes := tlog.TileHashReader(cp.Tree, tileReader{c})

	for _, leaf := range leafs {
		got, err := hashes.ReadHashes([]int64{tlog.StoredHashIndex(0, leaf)})
		if err != nil {
			fail("leaf", err)
		}
		record := got[0]
		doc := map[string]any{"step": "inclusion", "leaf": leaf, "size": cp.Tree.N}
		if *token != "" {
			entry, err := bundleEntry(c, cp.Tree, leaf)
			if err != nil {
				fail("entries", err)
			}
			if tlog.RecordHash(entry) != record {
				fail("entries", fmt.Errorf("leaf %d: the entry's record hash is not the tile's", leaf))
			}
			record = tlog.RecordHash(entry)
			doc["entry_sha256_input"] = base64.StdEncoding.EncodeToString(entry)
		}
		proof, err := tlog.ProveRecord(cp.Tree.N, leaf, hashes)
		if err != nil {
			fail("inclusion", err)
		}
		if err := tlog.CheckRecord(proof, cp.Tree.N, cp.Tree.Hash, leaf, record); err != nil {
			fail("inclusion", err)
		}
		doc["ok"], doc["record_hash"], doc["proof_len"] = true, fmt.Sprintf("%x", record[:]), len(proof)
		emit(doc)
	}

	if *old != "" {
		oldText, err := os.ReadFile(*old)
		if err != nil {
			fail("consistency", err)
		}
		prev, err := openCheckpoint(oldText, verifier)
		if err != nil {
			fail("consistency", err)
		}
		if prev.Origin != cp.Origin || prev.Tree.N > cp.Tree.N {
			fail("consistency", errors.New("the old checkpoint is of another log or larger"))
		}
		proof, err := tlog.ProveTree(cp.Tree.N, prev.Tree.N, hashes)
		if err != nil {
			fail("consistency", err)
		}
		if err := tlog.CheckTree(proof, cp.Tree.N, cp.Tree.Hash, prev.Tree.N, prev.Tree.Hash); err != nil {
			fail("consistency", err)
		}
		emit(map[string]any{"step": "consistency", "ok": true, "old": prev.Tree.N, "new": cp.Tree.N,
			"proof_len": len(proof)})
	}
	emit(map[string]any{"step": "done", "ok": true, "fetched": c.fetched})
}
