#include "grammar/matcher.h"

#include <algorithm>
#include <numeric>

namespace sarathi::grammar {

using pda::Frame;
using pda::StackSet;

namespace {

constexpr size_t kMaxDfaStates = 4096;  // the shared walk DFA is cleared beyond this
constexpr size_t kMaxStackEntries = 1 << 16;
constexpr size_t kGcFrames = 4096;  // a matcher compacts its frames beyond this

void set_bit(std::span<uint64_t> m, int32_t id) {
  m[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (static_cast<uint32_t>(id) & 63);
}

}  // namespace

// ---- TokenVocab --------------------------------------------------------------------------

std::shared_ptr<const TokenVocab> TokenVocab::create(std::vector<std::string> pieces,
                                                     std::vector<int32_t> eos_ids) {
  auto v = std::make_shared<TokenVocab>();
  v->pieces_ = std::move(pieces);
  std::sort(eos_ids.begin(), eos_ids.end());
  eos_ids.erase(std::unique(eos_ids.begin(), eos_ids.end()), eos_ids.end());
  std::erase_if(eos_ids, [&](int32_t id) { return id < 0 || id >= v->size(); });
  v->eos_ids_ = std::move(eos_ids);
  for (int32_t i = 0; i < v->size(); ++i)
    if (!v->pieces_[static_cast<size_t>(i)].empty() && !v->is_eos(i)) v->sorted_.push_back(i);
  std::sort(v->sorted_.begin(), v->sorted_.end(), [&](int32_t a, int32_t b) {
    return v->piece(a) < v->piece(b) || (v->piece(a) == v->piece(b) && a < b);
  });
  v->lcp_.assign(v->sorted_.size(), 0);
  for (size_t i = 1; i < v->sorted_.size(); ++i) {
    const std::string& a = v->piece(v->sorted_[i - 1]);
    const std::string& b = v->piece(v->sorted_[i]);
    const auto n = std::min(a.size(), b.size());
    uint32_t l = 0;
    while (l < n && a[l] == b[l]) ++l;
    v->lcp_[i] = l;
  }
  v->build_trie();
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a over lengths, bytes and end ids
  auto mix = [&h](uint64_t x) {
    for (int i = 0; i < 8; ++i, x >>= 8) h = (h ^ (x & 0xFF)) * 0x100000001B3ull;
  };
  for (const std::string& p : v->pieces_) {
    mix(p.size());
    for (unsigned char c : p) h = (h ^ c) * 0x100000001B3ull;
  }
  for (int32_t id : v->eos_ids_) mix(static_cast<uint64_t>(id));
  v->fingerprint_ = h;
  return v;
}

void TokenVocab::build_trie() {
  Trie& t = trie_;
  std::vector<uint32_t> open;  // open[d - 1]: the node of depth d on the current path
  auto close_to = [&](size_t depth, uint32_t sorted_idx) {
    while (open.size() > depth) {
      const uint32_t n = open.back();
      t.end[n] = static_cast<uint32_t>(t.size());
      t.last[n] = sorted_idx;
      open.pop_back();
    }
  };
  for (size_t i = 0; i < sorted_.size(); ++i) {
    const std::string& p = piece(sorted_[i]);
    max_piece_bytes_ = std::max(max_piece_bytes_, p.size());
    close_to(lcp_[i], static_cast<uint32_t>(i));
    for (size_t d = open.size(); d < p.size(); ++d) {
      open.push_back(static_cast<uint32_t>(t.size()));
      t.byte.push_back(static_cast<uint8_t>(p[d]));
      t.depth.push_back(static_cast<uint32_t>(d + 1));
      t.end.push_back(0);
      t.first.push_back(static_cast<uint32_t>(i));
      t.last.push_back(0);
      t.num_ending.push_back(0);
    }
    ++t.num_ending[open.back()];  // the node of depth p.size()
  }
  close_to(0, static_cast<uint32_t>(sorted_.size()));
}

bool TokenVocab::is_eos(int32_t id) const {
  return std::binary_search(eos_ids_.begin(), eos_ids_.end(), id);
}

// ---- CompiledGrammar ---------------------------------------------------------------------

CompiledGrammar::CompiledGrammar(std::shared_ptr<const Grammar> grammar,
                                 std::shared_ptr<const TokenVocab> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)), dfa_(*grammar_) {}

void CompiledGrammar::precompute() {
  const auto& elems = grammar_->elems;
  for (size_t p = 0; p < elems.size(); ++p)
    if (elems[p].kind == ElemKind::kByte || elems[p].kind == ElemKind::kClass ||
        elems[p].kind == ElemKind::kClassStar)
      position(static_cast<uint32_t>(p), 0);
}

CompiledGrammar::Stats CompiledGrammar::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {.num_positions = positions_.size(),
          .num_uncertain = num_uncertain_,
          .num_stack_entries = stacks_.size()};
}

const CompiledGrammar::PositionMask& CompiledGrammar::position(uint32_t pos, uint32_t partial) {
  const uint64_t key = (uint64_t{pos} << 32) | partial;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = positions_.find(key);
  if (it != positions_.end()) return *it->second;
  auto pm = std::make_unique<PositionMask>(walk(pos, partial));
  num_uncertain_ += pm->uncertain.size();
  return *positions_.emplace(key, std::move(pm)).first->second;
}

// Walks the trie in preorder from one top frame whose parent is kOutside. st[d] is the DFA state
// after the d bytes of the current node's prefix; left_before[d] says whether some path left the
// base frame after j bytes, 1 <= j < d (so bytes were left over for the unknown stack below).
// A node whose state has no stacks ends the descent: its subtree is skipped.
CompiledGrammar::PositionMask CompiledGrammar::walk(uint32_t pos, uint32_t partial) {
  if (dfa_.num_states() > kMaxDfaStates) dfa_.clear();
  PositionMask pm;
  pm.accepted.assign(vocab_->mask_words(), 0);
  StackSet s0;
  s0.tops.push_back(dfa_.table().intern({pos, partial, pda::kOutside}));
  const TokenVocab::Trie& trie = vocab_->trie();
  const auto sorted = vocab_->sorted();
  std::vector<int32_t> st(vocab_->max_piece_bytes() + 1);
  std::vector<char> left_before(vocab_->max_piece_bytes() + 2, 0);
  st[0] = dfa_.state(s0);
  auto mark = [&](uint32_t from, uint32_t to, bool accepted) {
    for (uint32_t k = from; k < to; ++k) {
      if (accepted)
        set_bit(pm.accepted, sorted[k]);
      else
        pm.uncertain.push_back(static_cast<int32_t>(k));
    }
  };
  for (size_t n = 0; n < trie.size();) {
    const uint32_t d = trie.depth[n];
    const bool parent_left = d >= 2 && dfa_.set(st[d - 1]).left;
    left_before[d] = static_cast<char>(left_before[d - 1] || parent_left);
    st[d] = dfa_.next(st[d - 1], trie.byte[n]);
    const StackSet& s = dfa_.set(st[d]);
    const uint32_t ending_end = trie.first[n] + trie.num_ending[n];
    if (!s.tops.empty()) {
      mark(trie.first[n], ending_end, true);
      ++n;
      continue;
    }
    // Nothing continues below this node: its own tokens are accepted if a path left exactly
    // here; longer ones have bytes left over after any leaving.
    if (s.left)
      mark(trie.first[n], ending_end, true);
    else if (left_before[d])
      mark(trie.first[n], ending_end, false);
    if (s.left || left_before[d]) mark(ending_end, trie.last[n], false);
    n = trie.end[n];
  }
  return pm;
}

std::shared_ptr<const std::vector<int32_t>> CompiledGrammar::find_stack(
    const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stacks_.find(key);
  return it == stacks_.end() ? nullptr : it->second;
}

void CompiledGrammar::remember_stack(const std::string& key,
                                     std::shared_ptr<const std::vector<int32_t>> v) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stacks_.size() < kMaxStackEntries) stacks_.emplace(key, std::move(v));
}

// ---- Matcher -----------------------------------------------------------------------------

Matcher::Matcher(std::shared_ptr<CompiledGrammar> grammar)
    : cg_(std::move(grammar)), stepper_(cg_->grammar(), table_) {
  StackSet s;
  stepper_.start(s);
  tops_ = std::move(s.tops);
  done_ = s.done;
}

bool Matcher::advance(std::string_view bytes) {
  if (terminated_) return false;
  StackSet cur, next;
  cur.tops = tops_;
  cur.done = done_;
  for (char c : bytes) {
    stepper_.advance(cur.tops, static_cast<uint8_t>(c), next);
    if (next.tops.empty() && !next.done) return false;
    std::swap(cur, next);
  }
  tops_ = std::move(cur.tops);
  done_ = cur.done;
  if (table_.size() > kGcFrames) collect_garbage();
  return true;
}

bool Matcher::accept_bytes(std::string_view bytes) { return advance(bytes); }

bool Matcher::accept_token(int32_t id) {
  const TokenVocab& v = cg_->vocab();
  if (id < 0 || id >= v.size() || terminated_) return false;
  if (v.is_eos(id)) {
    if (!done_) return false;
    terminated_ = true;
    return true;
  }
  const std::string& piece = v.piece(id);
  return !piece.empty() && advance(piece);
}

std::string Matcher::stack_key(int32_t top) const {
  std::string key;
  for (int32_t id = top; id >= 0; id = table_[id].parent) {
    const Frame& f = table_[id];
    key.append(reinterpret_cast<const char*>(&f.pos), sizeof f.pos);
    key.append(reinterpret_cast<const char*>(&f.partial), sizeof f.partial);
  }
  return key;
}

// Reads the uncertain tokens (in trie order, sharing prefixes) from the whole stack `top`.
std::shared_ptr<const std::vector<int32_t>> Matcher::check_uncertain(
    int32_t top, std::span<const int32_t> uncertain) {
  const TokenVocab& v = cg_->vocab();
  auto ok = std::make_shared<std::vector<int32_t>>();
  if (levels_.empty()) levels_.resize(1);
  levels_[0].clear();
  levels_[0].tops.push_back(top);
  const std::string* prev = nullptr;
  size_t have = 0;
  for (int32_t idx : uncertain) {
    const int32_t id = v.sorted()[static_cast<size_t>(idx)];
    const std::string& piece = v.piece(id);
    if (levels_.size() < piece.size() + 1) levels_.resize(piece.size() + 1);
    size_t common = 0;
    if (prev) {
      const size_t n = std::min({prev->size(), piece.size(), have});
      while (common < n && (*prev)[common] == piece[common]) ++common;
    }
    size_t d = common;
    while (d < piece.size() && !levels_[d].tops.empty()) {
      stepper_.advance(levels_[d].tops, static_cast<uint8_t>(piece[d]), levels_[d + 1]);
      ++d;
    }
    have = d;
    prev = &piece;
    if (d == piece.size() && (!levels_[d].tops.empty() || levels_[d].done)) ok->push_back(id);
  }
  return ok;
}

void Matcher::fill_mask(std::span<uint64_t> mask) {
  std::fill(mask.begin(), mask.end(), 0);
  if (terminated_) return;
  const TokenVocab& v = cg_->vocab();
  if (done_)
    for (int32_t id : v.eos_ids()) set_bit(mask, id);
  for (size_t t = 0; t < tops_.size(); ++t) {
    const Frame f = table_[tops_[t]];
    const CompiledGrammar::PositionMask& pm = cg_->position(f.pos, f.partial);
    const size_t n = std::min(mask.size(), pm.accepted.size());
    for (size_t w = 0; w < n; ++w) mask[w] |= pm.accepted[w];
    if (pm.uncertain.empty()) continue;
    const std::string key = stack_key(tops_[t]);
    auto ok = cg_->find_stack(key);
    if (!ok) {
      ok = check_uncertain(tops_[t], pm.uncertain);
      cg_->remember_stack(key, ok);
    }
    for (int32_t id : *ok) set_bit(mask, id);
  }
  if (table_.size() > kGcFrames) collect_garbage();
}

// Copies the frames the current stacks use into a fresh table (walks add many).
void Matcher::collect_garbage() {
  pda::FrameTable fresh;
  std::unordered_map<int32_t, int32_t> moved;
  std::vector<int32_t> chain;
  for (int32_t& top : tops_) {
    chain.clear();
    for (int32_t id = top; id >= 0 && !moved.count(id); id = table_[id].parent) chain.push_back(id);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      Frame f = table_[*it];
      if (f.parent >= 0) f.parent = moved.at(f.parent);
      moved[*it] = fresh.intern(f);
    }
    top = moved.at(top);
  }
  table_ = std::move(fresh);
  std::sort(tops_.begin(), tops_.end());
}

}  // namespace sarathi::grammar
