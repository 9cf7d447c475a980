#include "grammar/pda.h"

#include <algorithm>

#include "core/utf8.h"

namespace sarathi::grammar::pda {

int32_t FrameTable::intern(const Frame& f) {
  auto [it, inserted] = ids_.try_emplace(f, static_cast<int32_t>(frames_.size()));
  if (inserted) frames_.push_back(f);
  return it->second;
}

void FrameTable::clear() {
  frames_.clear();
  ids_.clear();
}

namespace {

// Partial character: bit 31 set, value in bits 0-20, bytes still expected in 21-22, the
// sequence's length in 23-25.
constexpr uint32_t kPartialFlag = 1u << 31;
uint32_t pack(uint32_t value, int remaining, int len) {
  return kPartialFlag | value | (static_cast<uint32_t>(remaining) << 21) |
         (static_cast<uint32_t>(len) << 23);
}

/// Whether some valid code point in [lo, hi] (no surrogates) is in the class.
bool feasible(const CharClass& c, uint32_t lo, uint32_t hi) {
  if (lo > hi) return false;
  if (lo < 0xD800 && c.intersects(lo, std::min<uint32_t>(hi, 0xD7FF))) return true;
  return hi > 0xDFFF && c.intersects(std::max<uint32_t>(lo, 0xE000), hi);
}

}  // namespace

int class_step(const CharClass& c, uint32_t partial, uint8_t byte, uint32_t* next) {
  uint32_t value;
  int remaining, len;
  if (partial == 0) {
    len = core::utf8::sequence_length(byte);
    if (len == 0) return 0;
    if (len == 1) return c.contains(byte) ? 2 : 0;
    value = byte & (0x7Fu >> len);
    remaining = len - 1;
  } else {
    if ((byte & 0xC0) != 0x80) return 0;
    value = ((partial & 0x1FFFFF) << 6) | (byte & 0x3Fu);
    remaining = static_cast<int>((partial >> 21) & 3) - 1;
    len = static_cast<int>((partial >> 23) & 7);
  }
  const uint32_t lo = std::max(value << (6 * remaining), core::utf8::min_code_point(len));
  const uint32_t hi =
      std::min<uint32_t>((value << (6 * remaining)) | ((1u << (6 * remaining)) - 1), 0x10FFFF);
  if (!feasible(c, lo, hi)) return 0;
  if (remaining == 0) return 2;
  *next = pack(value, remaining, len);
  return 1;
}

bool Stepper::visit(uint32_t pos, int32_t parent) {
  const uint64_t key = (uint64_t{pos} << 32) | static_cast<uint32_t>(parent);
  constexpr size_t kLinear = 48;
  if (visited_.size() < kLinear) {
    if (std::find(visited_.begin(), visited_.end(), key) != visited_.end()) return false;
    visited_.push_back(key);
    if (visited_.size() == kLinear) visited_set_.insert(visited_.begin(), visited_.end());
    return true;
  }
  return visited_set_.insert(key).second;
}

void Stepper::expand(uint32_t pos0, int32_t parent0, StackSet& out) {
  work_.clear();
  visited_.clear();
  if (!visited_set_.empty()) visited_set_.clear();
  work_.emplace_back(pos0, parent0);
  while (!work_.empty()) {
    auto [pos, parent] = work_.back();
    work_.pop_back();
    if (!visit(pos, parent)) continue;
    const Elem& e = g_.elems[pos];
    switch (e.kind) {
      case ElemKind::kEnd:
        if (parent == kBottom) {
          out.done = true;
        } else if (parent == kOutside) {
          out.left = true;
        } else {
          const Frame& f = t_[parent];
          work_.emplace_back(f.pos, f.parent);
        }
        break;
      case ElemKind::kByte:
      case ElemKind::kClass:
        out.tops.push_back(t_.intern({pos, 0, parent}));
        break;
      case ElemKind::kClassStar:
        out.tops.push_back(t_.intern({pos, 0, parent}));
        work_.emplace_back(pos + 1, parent);
        break;
      case ElemKind::kRuleRef: {
        // A reference in last place returns straight to our parent (no frame to pop).
        const uint32_t cont = pos + 1;
        const int32_t np =
            g_.elems[cont].kind == ElemKind::kEnd ? parent : t_.intern({cont, 0, parent});
        const auto& alts = g_.alts[static_cast<size_t>(e.value)];
        for (auto it = alts.rbegin(); it != alts.rend(); ++it)
          work_.emplace_back(static_cast<uint32_t>(*it), np);
        break;
      }
    }
  }
}

void Stepper::finish(StackSet& out) {
  std::sort(out.tops.begin(), out.tops.end());
  out.tops.erase(std::unique(out.tops.begin(), out.tops.end()), out.tops.end());
  if (out.tops.size() > kMaxStacks) out.tops.resize(kMaxStacks);
}

void Stepper::advance(const std::vector<int32_t>& in, uint8_t byte, StackSet& out) {
  out.clear();
  for (int32_t id : in) {
    const Frame f = t_[id];  // a copy: interning may grow the table
    const Elem& e = g_.elems[f.pos];
    switch (e.kind) {
      case ElemKind::kByte:
        if (e.value == byte) expand(f.pos + 1, f.parent, out);
        break;
      case ElemKind::kClass:
      case ElemKind::kClassStar: {
        uint32_t next = 0;
        const int r = class_step(g_.classes[static_cast<size_t>(e.value)], f.partial, byte, &next);
        if (r == 1) {
          out.tops.push_back(t_.intern({f.pos, next, f.parent}));
        } else if (r == 2) {
          // A star stays (and may stop: expand adds the skip); a single class moves on.
          expand(e.kind == ElemKind::kClassStar ? f.pos : f.pos + 1, f.parent, out);
        }
        break;
      }
      default:
        break;  // tops are only ever byte or class elements
    }
  }
  finish(out);
}

void Stepper::start(StackSet& out) {
  out.clear();
  for (int32_t a : g_.alts[static_cast<size_t>(g_.root)])
    expand(static_cast<uint32_t>(a), kBottom, out);
  finish(out);
}

size_t Dfa::SetHash::operator()(const StackSet& s) const {
  uint64_t h = 0x84222325CBF29CE4ull ^ (s.done ? 1 : 0) ^ (s.left ? 2 : 0);
  for (int32_t t : s.tops) h = (h ^ static_cast<uint32_t>(t)) * 0x100000001B3ull;
  return static_cast<size_t>(h ^ (h >> 31));
}

int32_t Dfa::state(const StackSet& s) {
  auto it = ids_.find(s);
  if (it != ids_.end()) return it->second;
  const auto id = static_cast<int32_t>(sets_.size());
  sets_.push_back(s);
  std::array<int32_t, 256> row;
  row.fill(kUnknown);
  trans_.push_back(row);
  ids_.emplace(s, id);
  return id;
}

int32_t Dfa::compute(int32_t s, uint8_t byte) {
  const std::vector<int32_t> tops = sets_[static_cast<size_t>(s)].tops;  // sets_ may grow
  stepper_.advance(tops, byte, scratch_);
  return state(scratch_);
}

void Dfa::clear() {
  table_.clear();
  sets_.clear();
  trans_.clear();
  ids_.clear();
}

}  // namespace sarathi::grammar::pda
