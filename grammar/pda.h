// grammar/pda.h: internals of the matcher: the grammar run as a pushdown automaton over bytes.
// A stack is a chain of hash-consed frames (a frame is a position plus the partial UTF-8
// character read so far, and its parent frame), so equal stacks are one id and a set of stacks
// is a sorted vector of ids. Not for use outside grammar/. Depends on grammar.h.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "grammar/grammar.h"

namespace sarathi::grammar::pda {

inline constexpr int32_t kBottom = -1;   // parent below the start rule: popping it ends the text
inline constexpr int32_t kOutside = -2;  // parent below a walk's base frame: popping it leaves
/// Stacks kept in one set at most. A wildly ambiguous grammar can have exponentially many; the
/// excess is dropped (the lowest frame ids are kept), which keeps every allowed token valid and
/// every state live but may disallow some valid tokens.
inline constexpr size_t kMaxStacks = 1024;

struct Frame {
  uint32_t pos = 0;      // next element to match (a top) or to continue with (a parent)
  uint32_t partial = 0;  // kClass/kClassStar tops: the UTF-8 character begun (0: none)
  int32_t parent = kBottom;
  bool operator==(const Frame&) const = default;
};

struct FrameHash {
  size_t operator()(const Frame& f) const {
    uint64_t h = (uint64_t{f.pos} << 32) ^ f.partial;
    h ^= static_cast<uint64_t>(static_cast<uint32_t>(f.parent)) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return static_cast<size_t>(h * 0xBF58476D1CE4E5B9ull);
  }
};

/// Frames by id; interning the same frame twice gives the same id.
class FrameTable {
 public:
  int32_t intern(const Frame& f);
  const Frame& operator[](int32_t id) const { return frames_[static_cast<size_t>(id)]; }
  size_t size() const { return frames_.size(); }
  void clear();

 private:
  std::vector<Frame> frames_;
  std::unordered_map<Frame, int32_t, FrameHash> ids_;
};

/// Where a set of stacks can be after some input.
struct StackSet {
  std::vector<int32_t> tops;  // top frames (each at a byte or class element), sorted, unique
  bool done = false;          // a path finished the start rule (kBottom popped)
  bool left = false;          // a path popped kOutside (left the base frame's rule)
  bool empty() const { return tops.empty() && !done && !left; }
  void clear() {
    tops.clear();
    done = left = false;
  }
};

/// The automaton's moves over one FrameTable.
class Stepper {
 public:
  Stepper(const Grammar& g, FrameTable& table) : g_(g), t_(table) {}

  /// Adds to `out` every top reachable from position `pos` with parent `parent` without
  /// reading input (rule references expanded, finished alternatives popped).
  void expand(uint32_t pos, int32_t parent, StackSet& out);
  /// The stacks of `in` after reading `byte` (out is cleared first).
  void advance(const std::vector<int32_t>& in, uint8_t byte, StackSet& out);
  /// The start state: every alternative of the start rule over kBottom.
  void start(StackSet& out);
  /// Sorts and deduplicates out.tops.
  static void finish(StackSet& out);

 private:
  bool visit(uint32_t pos, int32_t parent);

  const Grammar& g_;
  FrameTable& t_;
  std::vector<std::pair<uint32_t, int32_t>> work_;
  std::vector<uint64_t> visited_;             // small closures: linear search
  std::unordered_set<uint64_t> visited_set_;  // large ones (big alternations)
};

/// One step of UTF-8 decoding against a class. Returns 0 (reject), 1 (partial: *next is the
/// new partial state) or 2 (a whole character in the class).
int class_step(const CharClass& c, uint32_t partial, uint8_t byte, uint32_t* next);

/// StackSets interned as states of a lazily built DFA over bytes (transitions memoized), used
/// by mask walks where the same sets recur at many trie nodes.
class Dfa {
 public:
  static constexpr int32_t kUnknown = -1;
  explicit Dfa(const Grammar& g) : g_(g), stepper_(g, table_) {}

  /// The state of a set (interning it).
  int32_t state(const StackSet& s);
  /// The state after reading `byte` in state `s`.
  int32_t next(int32_t s, uint8_t byte) {
    const int32_t n = trans_[static_cast<size_t>(s)][byte];
    if (n != kUnknown) return n;
    const int32_t c = compute(s, byte);  // may grow trans_
    trans_[static_cast<size_t>(s)][byte] = c;
    return c;
  }
  const StackSet& set(int32_t s) const { return sets_[static_cast<size_t>(s)]; }
  FrameTable& table() { return table_; }
  size_t num_states() const { return sets_.size(); }
  /// Forgets everything (ids from before are invalid).
  void clear();

 private:
  int32_t compute(int32_t s, uint8_t byte);
  struct SetHash {
    size_t operator()(const StackSet& s) const;
  };
  struct SetEq {
    bool operator()(const StackSet& a, const StackSet& b) const {
      return a.tops == b.tops && a.done == b.done && a.left == b.left;
    }
  };

  const Grammar& g_;
  FrameTable table_;
  Stepper stepper_;
  std::vector<StackSet> sets_;
  std::vector<std::array<int32_t, 256>> trans_;
  std::unordered_map<StackSet, int32_t, SetHash, SetEq> ids_;
  StackSet scratch_;
};

}  // namespace sarathi::grammar::pda
