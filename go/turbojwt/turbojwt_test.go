package turbojwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The C ABI case file of the repository (tests/capi/cases.json, written by
// tests/capi/export_cases.py from the differential corpus and the Wycheproof JWS vectors, with
// the verdicts of turbojwt's PyO3 path as of its "at").
var caseFile = filepath.Join("..", "..", "tests", "capi", "cases.json")

type blob struct {
	Text   *string `json:"text"`
	Base64 *string `json:"base64"`
}

func (b blob) bytes(t *testing.T) []byte {
	if b.Text != nil {
		return []byte(*b.Text)
	}
	out, err := base64.StdEncoding.DecodeString(*b.Base64)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type caseDoc struct {
	At       float64           `json:"at"`
	Keys     []blob            `json:"keys"`
	Policies []json.RawMessage `json:"policies"`
	Tokens   []blob            `json:"tokens"`
	Claims   []string          `json:"claims"`
	Messages []string          `json:"messages"`
	Cases    []struct {
		ID            string `json:"id"`
		Kind          string `json:"kind"`
		Key           int    `json:"key"`
		Policy        int    `json:"policy"`
		Token         int    `json:"token"`
		Claims        *int   `json:"claims"`
		Error         string `json:"error"`
		Message       *int   `json:"message"`
		Inexact       bool   `json:"inexact"`
		UnsupportedOK bool   `json:"unsupported_ok"`
	} `json:"cases"`
}

var kinds = map[string]KeyKind{"material": KeyMaterial, "jwk": KeyJWK, "jwks": KeyJWKS}

// decodeJSON reads a JSON value with its numbers as Python's json reads them: an integer
// literal as an exact integer, any other number as a float64.
func decodeJSON(data []byte) (interface{}, error) {
	var v interface{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return pythonNumbers(v)
}

type pyInt struct{ text string }

func pythonNumbers(v interface{}) (interface{}, error) {
	switch x := v.(type) {
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return strconv.ParseFloat(string(x), 64)
		}
		n, ok := new(big.Int).SetString(string(x), 10)
		if !ok {
			return nil, fmt.Errorf("bad integer %q", x)
		}
		return pyInt{n.String()}, nil
	case map[string]interface{}:
		for k, item := range x {
			conv, err := pythonNumbers(item)
			if err != nil {
				return nil, err
			}
			x[k] = conv
		}
	case []interface{}:
		for i, item := range x {
			conv, err := pythonNumbers(item)
			if err != nil {
				return nil, err
			}
			x[i] = conv
		}
	}
	return v, nil
}

func TestSameVerdictsAsThePythonPath(t *testing.T) {
	data, err := os.ReadFile(caseFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc caseDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) < 5000 {
		t.Fatalf("only %d cases", len(doc.Cases))
	}
	failures, notComparable := 0, 0
	for _, c := range doc.Cases {
		fail := func(format string, args ...interface{}) {
			failures++
			if failures <= 25 {
				t.Errorf(c.ID+": "+format, args...)
			}
		}
		var claims Claims
		v, err := NewVerifier(kinds[c.Kind], doc.Keys[c.Key].bytes(t), doc.Policies[c.Policy], 0)
		if err == nil {
			claims, err = v.VerifyAtUnix(string(doc.Tokens[c.Token].bytes(t)), doc.At)
			v.Close()
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			fail("not an *Error: %v", err)
			continue
		}
		if e != nil && e.Name == "Unsupported" && c.UnsupportedOK {
			continue
		}
		if c.Claims != nil {
			if err != nil {
				fail("expected claims, got %v", err)
				continue
			}
			want, werr := decodeJSON([]byte(doc.Claims[*c.Claims]))
			got, gerr := decodeJSON(claims.Raw)
			if werr != nil || gerr != nil {
				// NaN and Infinity, which Python's json reads and Go's does not
				notComparable++
				continue
			}
			if !reflect.DeepEqual(want, got) {
				fail("claims %s, got %s", doc.Claims[*c.Claims], claims.Raw)
			}
			continue
		}
		want := doc.Messages[*c.Message]
		if e == nil {
			fail("expected %s: %s, got claims %s", c.Error, want, claims.Raw)
		} else if e.Name != c.Error || (!c.Inexact && e.Message != want) {
			fail("expected %s: %s, got %s: %s", c.Error, want, e.Name, e.Message)
		}
	}
	if failures > 0 {
		t.Fatalf("%d of %d cases differ", failures, len(doc.Cases))
	}
	if notComparable > 10 {
		t.Fatalf("%d cases' claims could not be compared", notComparable)
	}
	t.Logf("%d cases, %d with claims Go's JSON cannot read", len(doc.Cases), notComparable)
}

const secret = "0123456789abcdef0123456789abcdef"

// A token signed with secret (HS256): {"alg":"HS256","kid":"k1","typ":"JWT"} and
// {"iss":"idp","sub":"u","aud":["api","x"],"exp":2000000000,"jti":"j"}.
const token = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0." +
	"eyJpc3MiOiJpZHAiLCJzdWIiOiJ1IiwiYXVkIjpbImFwaSIsIngiXSwiZXhwIjoyMDAwMDAwMDAwLCJqdGkiOiJqIn0." +
	"SIGNATURE"

func signed(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "hs256.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func newVerifier(t *testing.T, cache int) *Verifier {
	t.Helper()
	policy, err := Policy{Algorithms: []string{"HS256"}, Audience: []string{"api"}}.JSON()
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(KeyMaterial, []byte(secret), policy, cache)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFieldsAndErrors(t *testing.T) {
	v := newVerifier(t, 0)
	defer v.Close()
	c, err := v.VerifyAt(signed(t), time.Unix(1_000_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "idp" || c.Subject != "u" || c.ID != "j" || c.KeyID != "k1" || c.Algorithm != "HS256" || c.Type != "JWT" {
		t.Fatalf("fields: %+v", c)
	}
	if !reflect.DeepEqual(c.Audience, []string{"api", "x"}) || c.ExpiresAt == nil || *c.ExpiresAt != 2e9 || c.IssuedAt != nil {
		t.Fatalf("fields: %+v", c)
	}
	m, err := c.Map()
	if err != nil || m["exp"] != json.Number("2000000000") {
		t.Fatalf("map: %v %v", m, err)
	}
	_, err = v.VerifyAt(signed(t), time.Unix(2_000_000_000, 0))
	var e *Error
	if !errors.As(err, &e) || e.Name != "ExpiredSignatureError" || e.Message != "Signature has expired" || e.Code != 4 {
		t.Fatalf("expired: %v", err)
	}
	if _, err = v.Verify(token); !errors.As(err, &e) || e.Name != "DecodeError" {
		t.Fatalf("bad signature segment: %v", err)
	}
	if _, err = v.Verify(""); !errors.As(err, &e) || e.Message != "Not enough segments" {
		t.Fatalf("empty: %v", err)
	}
	_, err = NewVerifier(KeyMaterial, []byte(secret), []byte(`{"algorithms":["HS256"],"options":{"verify_foo":true}}`), 0)
	if !errors.As(err, &e) || e.Name != "BadPolicy" || !strings.Contains(e.Message, `unknown option "verify_foo"`) {
		t.Fatalf("bad policy: %v", err)
	}
	_, err = NewVerifier(KeyMaterial, nil, nil, 0)
	if !errors.As(err, &e) || e.Name != "NullArgument" {
		t.Fatalf("no policy: %v", err)
	}
	_, err = NewVerifier(KeyJWKS, []byte(`{"keys":[]}`), []byte(`{"algorithms":["HS256"]}`), 0)
	if !errors.As(err, &e) || e.Name != "PyJWKSetError" {
		t.Fatalf("empty key set: %v", err)
	}
	v.Close()
	v.Close()
	if _, err = v.Verify(signed(t)); !errors.As(err, &e) || e.Name != "NullArgument" {
		t.Fatalf("closed: %v", err)
	}
	if Version() == "" {
		t.Fatal("no version")
	}
}

func TestSharedByGoroutines(t *testing.T) {
	for _, cache := range []int{0, 64} {
		v := newVerifier(t, cache)
		tok := signed(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					at := time.Unix(1_999_999_990+int64((i+g)%20), 0)
					_, err := v.VerifyAt(tok, at)
					expired := at.Unix() >= 2_000_000_000
					var e *Error
					if expired != (err != nil) || (err != nil && (!errors.As(err, &e) || e.Name != "ExpiredSignatureError")) {
						errs <- err
						return
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("cache %d: %v", cache, err)
		}
		v.Close()
	}
}
