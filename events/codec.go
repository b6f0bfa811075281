package events

import (
	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// The log's messages are encoding/json's JSON: that is the wire format, and
// any reader of the streams may use encoding/json. Gantry itself reads and
// writes them with github.com/go-json-experiment/json (the implementation
// proposed as encoding/json/v2, pure Go) under its v1 options, which make
// the same bytes and accept the same input as encoding/json (but for one
// spelling: a byte of invalid UTF-8 becomes U+FFFD in both, written as that
// character rather than as \ufffd), at less CPU: BenchmarkParseDecodePodBound
// went from 23 to 12 µs (10 with Quantity's own fast path). In a B1 run
// encoding/json's Unmarshal took 4.8 s and Marshal 3.9 s of 55 s.
// TestCodecMatchesEncodingJSON holds the two to the same bytes and values
// for every registered event type.
var v1Options = jsonv1.DefaultOptionsV1()

// Marshal encodes v as encoding/json.Marshal does.
func Marshal(v any) ([]byte, error) { return jsonv2.Marshal(v, v1Options) }

// Unmarshal decodes b into v as encoding/json.Unmarshal does.
func Unmarshal(b []byte, v any) error { return jsonv2.Unmarshal(b, v, v1Options) }
