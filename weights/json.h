// A small, strict JSON reader (RFC 8259) for file headers we do not trust.
//
// Only what weight-file headers need, but none of the leniency: no trailing commas, no comments,
// no leading zeros, no duplicate object keys, no raw control characters, valid UTF-8 only, and a
// nesting limit so a hostile header cannot overflow the stack. Every failure is one sn::Error
// naming the byte offset.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sn::json {

struct Value {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  std::string text;               // String: the decoded text; Number: the literal as written
  std::vector<Value> items;       // Array elements, or Object values
  std::vector<std::string> keys;  // Object keys, parallel to items, in document order

  bool is(Kind k) const { return kind == k; }
  // The member named `key` of an object, or nullptr.
  const Value* find(std::string_view key) const;
  // The number as an int64; throws (naming `what`) unless it is an integer literal in range.
  int64_t as_int64(std::string_view what) const;
};

const char* kind_name(Value::Kind kind);

// Parses one JSON document; only whitespace may follow it. `context` prefixes error messages.
Value parse(std::string_view text, std::string_view context = "json");

// A JSON string literal (with quotes) for `s`, escaping what must be escaped.
std::string quote(std::string_view s);

}  // namespace sn::json
