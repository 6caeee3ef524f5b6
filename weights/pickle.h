// A restricted unpickler for the pickles inside PyTorch weight files.
//
// Python's pickle is a small stack machine whose GLOBAL and REDUCE opcodes import and call any
// Python function — a weight file from the internet can run code when loaded with pickle.load.
// This unpickler runs only the opcodes a saved state_dict uses (protocols 2 to 4) and imports
// nothing itself: every GLOBAL, REDUCE (call), BUILD (setstate) and BINPERSID (persistent id) goes
// to a Resolver that allows a fixed list and refuses the rest. Everything else is refused with an
// sn::Error naming the byte offset.
//
// Objects live in an arena owned by the Unpickler and refer to each other with plain pointers, so
// hostile input can build cycles or deep nesting without leaking or overflowing the stack on
// destruction. Every length is checked against the bytes left, and the number of objects, stack
// entries and memo entries is capped, so memory stays proportional to the input.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sn::pickle {

struct Object {
  enum class Kind { None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Global, Custom };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0.0;
  // Str and Bytes: the contents; BigInt: little-endian two's complement bytes (too wide for
  // int64); Global: "module.name".
  std::string text;
  // Tuple and List: elements; Dict: keys and values interleaved, in insertion order.
  std::vector<Object*> items;
  // Custom: an object the Resolver made, identified by its own kind name and handle.
  std::string custom_kind;
  int64_t custom_id = -1;

  bool is(Kind k) const { return kind == k; }
  // Dict lookup by string key; nullptr when absent or not a Dict.
  const Object* get(std::string_view key) const;
};

// "str 'cpu'", "tuple of 5", "global os.system": for error messages (never recursive).
std::string describe(const Object& obj);

class Unpickler;

// Decides what the GLOBAL, REDUCE, BUILD and BINPERSID opcodes may do. The defaults refuse.
class Resolver {
 public:
  virtual ~Resolver() = default;
  // May `module.name` be referenced? Asked when the GLOBAL opcode is read.
  virtual bool allow_global(std::string_view module, std::string_view name) const { return false; }
  // callable(*args) for an allowed global.
  virtual Object* call(Unpickler& u, const Object& callable, const Object& args);
  // obj.__setstate__(state).
  virtual void build(Unpickler& u, Object& obj, const Object& state);
  virtual Object* persistent_load(Unpickler& u, const Object& pid);
};

class Unpickler {
 public:
  // Caps that no state_dict pickle comes near (VGG16's has a few hundred objects).
  static constexpr size_t kMaxObjects = 1 << 20;
  static constexpr size_t kMaxStackEntries = 1 << 20;
  static constexpr size_t kMaxMemoEntries = 1 << 20;

  // `source` names the data in error messages.
  Unpickler(std::string source, Resolver& resolver);

  // Runs one pickle that starts at byte `pos` of `bytes` and returns its result, which lives as
  // long as the Unpickler. end() is then the offset just past its STOP opcode (the legacy torch
  // format puts several pickles back to back).
  const Object& load(std::string_view bytes, size_t pos = 0);
  size_t end() const { return pos_; }

  // A new object in the arena (for Resolvers).
  Object* make(Object::Kind kind);
  // Throws sn::Error: "<source>: pickle byte <offset>: <what>".
  [[noreturn]] void fail(const std::string& what) const;

 private:
  void step(uint8_t op);
  std::string_view take(uint64_t nbytes);
  uint64_t take_le(int nbytes);
  std::string take_line();
  void push(Object* obj);
  Object* pop();
  Object* top();
  std::vector<Object*> pop_to_mark();
  void memo_put(uint64_t index);
  Object* memo_get(uint64_t index);
  Object* make_text(Object::Kind kind, std::string_view text);
  Object* make_int(int64_t value);
  Object* make_long(std::string_view le_bytes);
  Object* make_global(std::string_view module, std::string_view name);

  std::string_view bytes_;
  std::string source_;
  Resolver& resolver_;
  size_t pos_ = 0, op_pos_ = 0;
  bool stopped_ = false;
  std::deque<Object> arena_;  // a deque never moves its elements, so pointers stay valid
  Object none_, true_, false_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;  // stack heights at each MARK
  std::unordered_map<uint64_t, Object*> memo_;
};

}  // namespace sn::pickle
