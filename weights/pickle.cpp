#include "weights/pickle.h"

#include <bit>
#include <cstring>

#include "tensor/error.h"
#include "weights/binary_util.h"

namespace sn::pickle {

namespace {

// The opcodes we run (pickletools.py names). Anything else is refused.
enum Op : uint8_t {
  MARK = '(', STOP = '.', BININT = 'J', BININT1 = 'K', BININT2 = 'M', NONE = 'N', BINPERSID = 'Q',
  REDUCE = 'R', BINSTRING = 'T', SHORT_BINSTRING = 'U', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b',
  GLOBAL = 'c', EMPTY_DICT = '}', APPENDS = 'e', BINGET = 'h', LONG_BINGET = 'j', EMPTY_LIST = ']',
  BINPUT = 'q', LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u',
  BINFLOAT = 'G',
  PROTO = 0x80, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a,
  BINBYTES = 'B', SHORT_BINBYTES = 'C',                                               // protocol 3
  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95  // 4
};

constexpr int kHighestProtocol = 4;
constexpr size_t kMaxGlobalLine = 256;  // module and attribute names are short

const char* kind_name(Object::Kind k) {
  switch (k) {
    case Object::Kind::None: return "None";
    case Object::Kind::Bool: return "bool";
    case Object::Kind::Int: return "int";
    case Object::Kind::BigInt: return "big int";
    case Object::Kind::Float: return "float";
    case Object::Kind::Str: return "str";
    case Object::Kind::Bytes: return "bytes";
    case Object::Kind::Tuple: return "tuple";
    case Object::Kind::List: return "list";
    case Object::Kind::Dict: return "dict";
    case Object::Kind::Global: return "global";
    case Object::Kind::Custom: return "object";
  }
  return "?";
}

// Printable for messages: control and non-ASCII bytes escaped, long text cut.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 64)) {
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += detail::cat("\\x", "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
  }
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

const Object* Object::get(std::string_view key) const {
  if (kind != Kind::Dict) return nullptr;
  for (size_t i = 0; i + 1 < items.size(); i += 2)
    if (items[i]->kind == Kind::Str && items[i]->text == key) return items[i + 1];
  return nullptr;
}

std::string describe(const Object& obj) {
  switch (obj.kind) {
    case Object::Kind::Bool: return obj.boolean ? "True" : "False";
    case Object::Kind::Int: return detail::cat("int ", obj.integer);
    case Object::Kind::Float: return detail::cat("float ", obj.number);
    case Object::Kind::Str: return "str '" + printable(obj.text) + "'";
    case Object::Kind::Global: return "global " + printable(obj.text);
    case Object::Kind::Tuple:
    case Object::Kind::List: return detail::cat(kind_name(obj.kind), " of ", obj.items.size());
    case Object::Kind::Dict: return detail::cat("dict of ", obj.items.size() / 2);
    case Object::Kind::Custom: return obj.custom_kind;
    default: return kind_name(obj.kind);
  }
}

Object* Resolver::call(Unpickler& u, const Object& callable, const Object&) {
  u.fail("refusing to call " + describe(callable) + ": not part of a PyTorch state_dict");
}

void Resolver::build(Unpickler& u, Object& obj, const Object&) {
  u.fail("refusing to set the state of " + describe(obj) + " (BUILD)");
}

Object* Resolver::persistent_load(Unpickler& u, const Object&) {
  u.fail("unexpected persistent id (BINPERSID) in this pickle");
}

Unpickler::Unpickler(std::string source, Resolver& resolver) : source_(std::move(source)), resolver_(resolver) {
  none_.kind = Object::Kind::None;
  true_.kind = false_.kind = Object::Kind::Bool;
  true_.boolean = true;
}

void Unpickler::fail(const std::string& what) const {
  throw Error(detail::cat(source_, ": pickle byte ", op_pos_, ": ", what));
}

Object* Unpickler::make(Object::Kind kind) {
  if (arena_.size() >= kMaxObjects) fail(detail::cat("more than ", kMaxObjects, " objects"));
  Object& obj = arena_.emplace_back();
  obj.kind = kind;
  return &obj;
}

Object* Unpickler::make_text(Object::Kind kind, std::string_view text) {
  Object* obj = make(kind);
  obj->text = text;
  return obj;
}

Object* Unpickler::make_int(int64_t value) {
  Object* obj = make(Object::Kind::Int);
  obj->integer = value;
  return obj;
}

// Python ints of any width arrive as little-endian two's complement bytes.
Object* Unpickler::make_long(std::string_view le) {
  if (le.size() > 8) return make_text(Object::Kind::BigInt, le);
  uint64_t v = le.empty() ? 0 : read_le(le, 0, static_cast<int>(le.size()));
  if (!le.empty() && le.size() < 8 && (static_cast<unsigned char>(le.back()) & 0x80))
    v |= ~uint64_t{0} << (8 * le.size());  // sign-extend
  return make_int(static_cast<int64_t>(v));
}

Object* Unpickler::make_global(std::string_view module, std::string_view name) {
  if (!resolver_.allow_global(module, name))
    fail("refusing global '" + printable(module) + "." + printable(name) +
         "': not part of a PyTorch state_dict (the file may be malicious)");
  return make_text(Object::Kind::Global, std::string(module) + "." + std::string(name));
}

std::string_view Unpickler::take(uint64_t nbytes) {
  if (nbytes > bytes_.size() - pos_)
    fail(detail::cat("needs ", nbytes, " bytes but only ", bytes_.size() - pos_, " are left (truncated?)"));
  std::string_view s = bytes_.substr(pos_, nbytes);
  pos_ += nbytes;
  return s;
}

uint64_t Unpickler::take_le(int nbytes) { return read_le(take(nbytes), 0, nbytes); }

std::string Unpickler::take_line() {
  const std::string_view rest = bytes_.substr(pos_, kMaxGlobalLine);
  const size_t newline = rest.find('\n');
  if (newline == std::string_view::npos) fail("GLOBAL name is not terminated");
  pos_ += newline + 1;
  return std::string(rest.substr(0, newline));
}

void Unpickler::push(Object* obj) {
  if (stack_.size() + marks_.size() >= kMaxStackEntries) fail("stack too deep");
  stack_.push_back(obj);
}

Object* Unpickler::pop() {
  if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size())) fail("stack underflow");
  Object* obj = stack_.back();
  stack_.pop_back();
  return obj;
}

Object* Unpickler::top() {
  if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size())) fail("stack underflow");
  return stack_.back();
}

std::vector<Object*> Unpickler::pop_to_mark() {
  if (marks_.empty()) fail("no MARK to pop to");
  std::vector<Object*> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
  stack_.resize(marks_.back());
  marks_.pop_back();
  return items;
}

void Unpickler::memo_put(uint64_t index) {
  if (memo_.size() >= kMaxMemoEntries && !memo_.count(index)) fail("memo too large");
  memo_[index] = top();
}

Object* Unpickler::memo_get(uint64_t index) {
  auto it = memo_.find(index);
  if (it == memo_.end()) fail(detail::cat("memo entry ", index, " was never stored"));
  return it->second;
}

const Object& Unpickler::load(std::string_view bytes, size_t pos) {
  bytes_ = bytes;
  if (pos > bytes_.size()) fail("starts past the end of the data");
  pos_ = op_pos_ = pos;
  stopped_ = false;
  stack_.clear();
  marks_.clear();
  memo_.clear();
  while (!stopped_) {
    op_pos_ = pos_;
    step(static_cast<uint8_t>(take(1)[0]));
  }
  op_pos_ = pos_ - 1;
  if (stack_.size() != 1 || !marks_.empty()) fail("STOP with a malformed stack");
  return *stack_.back();
}

void Unpickler::step(uint8_t op) {
  using K = Object::Kind;
  switch (op) {
    case PROTO: {
      const uint64_t version = take_le(1);
      if (version > kHighestProtocol) fail(detail::cat("pickle protocol ", version, " is not supported (2 to 4 are)"));
      break;
    }
    case FRAME: take(8); break;  // frames only group opcodes for buffering; nothing to do
    case STOP: stopped_ = true; break;
    case MARK:
      if (stack_.size() + marks_.size() >= kMaxStackEntries) fail("stack too deep");
      marks_.push_back(stack_.size());
      break;
    case NONE: push(&none_); break;
    case NEWTRUE: push(&true_); break;
    case NEWFALSE: push(&false_); break;
    case BININT: push(make_int(static_cast<int32_t>(take_le(4)))); break;
    case BININT1: push(make_int(static_cast<int64_t>(take_le(1)))); break;
    case BININT2: push(make_int(static_cast<int64_t>(take_le(2)))); break;
    case LONG1: push(make_long(take(take_le(1)))); break;
    case BINFLOAT: {
      const std::string_view be = take(8);  // big-endian IEEE double
      uint64_t bits = 0;
      for (unsigned char c : be) bits = (bits << 8) | c;
      Object* obj = make(K::Float);
      obj->number = std::bit_cast<double>(bits);
      push(obj);
      break;
    }
    case SHORT_BINUNICODE: push(make_text(K::Str, take(take_le(1)))); break;
    case BINUNICODE: push(make_text(K::Str, take(take_le(4)))); break;
    case BINUNICODE8: push(make_text(K::Str, take(take_le(8)))); break;
    // Python 2 str: what pickles written by Python 2 use for names and keys.
    case SHORT_BINSTRING: push(make_text(K::Str, take(take_le(1)))); break;
    case BINSTRING: {
      const auto n = static_cast<int32_t>(take_le(4));
      if (n < 0) fail("negative string length");
      push(make_text(K::Str, take(static_cast<uint64_t>(n))));
      break;
    }
    case SHORT_BINBYTES: push(make_text(K::Bytes, take(take_le(1)))); break;
    case BINBYTES: push(make_text(K::Bytes, take(take_le(4)))); break;
    case EMPTY_TUPLE: push(make(K::Tuple)); break;
    case EMPTY_LIST: push(make(K::List)); break;
    case EMPTY_DICT: push(make(K::Dict)); break;
    case TUPLE: {
      Object* t = make(K::Tuple);
      t->items = pop_to_mark();
      push(t);
      break;
    }
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      Object* t = make(K::Tuple);
      t->items.resize(op - TUPLE1 + 1);
      for (auto it = t->items.rbegin(); it != t->items.rend(); ++it) *it = pop();
      push(t);
      break;
    }
    case APPEND: {
      Object* value = pop();
      Object* list = top();
      if (!list->is(K::List)) fail("APPEND to a " + describe(*list));
      list->items.push_back(value);
      break;
    }
    case APPENDS: {
      std::vector<Object*> values = pop_to_mark();
      Object* list = top();
      if (!list->is(K::List)) fail("APPENDS to a " + describe(*list));
      list->items.insert(list->items.end(), values.begin(), values.end());
      break;
    }
    case SETITEM: {
      Object* value = pop();
      Object* key = pop();
      Object* dict = top();
      if (!dict->is(K::Dict)) fail("SETITEM on a " + describe(*dict));
      dict->items.push_back(key);
      dict->items.push_back(value);
      break;
    }
    case SETITEMS: {
      std::vector<Object*> kv = pop_to_mark();
      Object* dict = top();
      if (!dict->is(K::Dict) || kv.size() % 2 != 0) fail("SETITEMS on a " + describe(*dict) + " or with an odd count");
      dict->items.insert(dict->items.end(), kv.begin(), kv.end());
      break;
    }
    case BINPUT: memo_put(take_le(1)); break;
    case LONG_BINPUT: memo_put(take_le(4)); break;
    case MEMOIZE: memo_put(memo_.size()); break;
    case BINGET: push(memo_get(take_le(1))); break;
    case LONG_BINGET: push(memo_get(take_le(4))); break;
    case GLOBAL: {
      const std::string module = take_line();
      const std::string name = take_line();
      push(make_global(module, name));
      break;
    }
    case STACK_GLOBAL: {
      Object* name = pop();
      Object* module = pop();
      if (!module->is(K::Str) || !name->is(K::Str)) fail("STACK_GLOBAL needs two strings");
      push(make_global(module->text, name->text));
      break;
    }
    case REDUCE: {
      Object* args = pop();
      Object* callable = pop();
      if (!callable->is(K::Global)) fail("REDUCE calls a " + describe(*callable) + ", not an allowed global");
      if (!args->is(K::Tuple)) fail("REDUCE with arguments that are not a tuple");
      push(resolver_.call(*this, *callable, *args));
      break;
    }
    case BUILD: {
      Object* state = pop();
      resolver_.build(*this, *top(), *state);
      break;
    }
    case BINPERSID: push(resolver_.persistent_load(*this, *pop())); break;
    default:
      fail(detail::cat("opcode 0x", "0123456789abcdef"[op >> 4], "0123456789abcdef"[op & 15],
                       " is not one a PyTorch state_dict uses; refusing it"));
  }
}

}  // namespace sn::pickle
