// grammar/matcher.h: token-level constraints. A TokenVocab holds the bytes of every token sorted
// into trie order; a CompiledGrammar is a Grammar prepared for one vocabulary (the mask caches,
// shared by every request that uses the grammar); a Matcher is one request's position in it:
// it accepts tokens and yields the mask of allowed next tokens. Depends on grammar.h and core/.
//
// How a mask is made (after XGrammar's adaptive token mask cache): the matcher holds a set of
// stacks. A token is allowed when it is allowed from one of them, so the mask is a union over
// stacks. For the top frame of a stack (a position, plus the part of a UTF-8 character read so
// far) the CompiledGrammar keeps, computed once by walking the token trie:
//   accepted:  tokens read wholly without popping that frame (or popping it exactly at their
//              end): allowed whatever lies below;
//   uncertain: tokens that pop the frame with bytes left over: they depend on the stack below.
// Uncertain tokens are checked against the whole stack, again in trie order, and the outcome is
// memoized by the stack's content. Every terminal position is walked once in precompute(); the
// rest (positions in the middle of a UTF-8 character) on first use. Whole tokens are read byte by
// byte, so a token may span several terminals and end inside a character.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/pda.h"

namespace sarathi::grammar {

/// The vocabulary as bytes. Tokens with an empty piece (control, unused) are never allowed
/// under a grammar; end-of-generation tokens are allowed exactly where the grammar may end.
class TokenVocab {
 public:
  /// pieces[i]: the bytes token i adds to the output text; eos_ids: end-of-generation tokens.
  static std::shared_ptr<const TokenVocab> create(std::vector<std::string> pieces,
                                                  std::vector<int32_t> eos_ids);

  int32_t size() const { return static_cast<int32_t>(pieces_.size()); }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  std::span<const int32_t> eos_ids() const { return eos_ids_; }
  bool is_eos(int32_t id) const;
  /// Tokens a grammar can allow, sorted by bytes (the trie's depth-first order).
  std::span<const int32_t> sorted() const { return sorted_; }
  /// lcp()[i]: bytes sorted()[i] shares with sorted()[i - 1] (0 for i = 0).
  std::span<const uint32_t> lcp() const { return lcp_; }
  /// 64-bit words of a mask over this vocabulary.
  size_t mask_words() const { return (pieces_.size() + 63) / 64; }

  /// The trie of sorted(), one node per distinct non-empty prefix, in depth-first preorder.
  /// Node n spells a prefix of depth[n] bytes ending in byte[n]; its subtree is nodes
  /// [n + 1, end[n]); the tokens with its prefix are sorted()[first[n], last[n]), and the first
  /// num_ending[n] of them are exactly that prefix.
  struct Trie {
    std::vector<uint8_t> byte;
    std::vector<uint32_t> depth, end, first, last, num_ending;
    size_t size() const { return byte.size(); }
  };
  const Trie& trie() const { return trie_; }
  /// Longest piece in bytes.
  size_t max_piece_bytes() const { return max_piece_bytes_; }
  /// A hash of every piece and the end tokens: equal vocabularies have equal fingerprints.
  uint64_t fingerprint() const { return fingerprint_; }

 private:
  void build_trie();

  std::vector<std::string> pieces_;
  std::vector<int32_t> eos_ids_;
  std::vector<int32_t> sorted_;
  std::vector<uint32_t> lcp_;
  Trie trie_;
  size_t max_piece_bytes_ = 0;
  uint64_t fingerprint_ = 0;
};

/// A grammar prepared for a vocabulary: the per-position and per-stack mask caches. Thread-safe
/// (one lock guards the caches); share it between requests with the same grammar.
class CompiledGrammar {
 public:
  CompiledGrammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocab> vocab);

  /// Walks the trie once for every terminal position (the caller's thread; milliseconds per
  /// position on a 32k vocabulary). Optional: positions are otherwise walked on first use.
  void precompute();

  const Grammar& grammar() const { return *grammar_; }
  const TokenVocab& vocab() const { return *vocab_; }

  struct Stats {
    size_t num_positions = 0;      // positions walked
    size_t num_uncertain = 0;      // uncertain tokens over all of them
    size_t num_stack_entries = 0;  // memoized stacks
  };
  Stats stats() const;

 private:
  friend class Matcher;
  struct PositionMask {
    std::vector<uint64_t> accepted;  // token bits
    std::vector<int32_t> uncertain;  // indices into vocab().sorted(), ascending
  };
  /// The cached entry of a top frame's position (walked now if new).
  const PositionMask& position(uint32_t pos, uint32_t partial);
  PositionMask walk(uint32_t pos, uint32_t partial);  // with mu_ held
  /// The uncertain tokens found allowed for a stack (by content key); null if not memoized.
  std::shared_ptr<const std::vector<int32_t>> find_stack(const std::string& key) const;
  void remember_stack(const std::string& key, std::shared_ptr<const std::vector<int32_t>> v);

  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenVocab> vocab_;
  mutable std::mutex mu_;
  pda::Dfa dfa_;  // frames relative to kOutside, shared by every walk
  std::unordered_map<uint64_t, std::unique_ptr<PositionMask>> positions_;
  std::unordered_map<std::string, std::shared_ptr<const std::vector<int32_t>>> stacks_;
  size_t num_uncertain_ = 0;
};

/// One request's state in a grammar. Not thread-safe; cheap to create.
class Matcher {
 public:
  explicit Matcher(std::shared_ptr<CompiledGrammar> grammar);
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  /// Advances by a token; false (and no change) if the grammar does not allow it. An
  /// end-of-generation token is allowed only where the grammar may end, and terminates.
  bool accept_token(int32_t id);
  /// Advances by raw bytes (tests, forced text); false (and no change) if not allowed.
  bool accept_bytes(std::string_view bytes);
  /// Writes the allowed next tokens: mask.size() >= vocab().mask_words().
  void fill_mask(std::span<uint64_t> mask);
  /// Whether the text so far is a complete sentence of the grammar (EOS allowed).
  bool can_end() const { return done_; }
  /// Whether nothing but the end can follow (or the end was accepted).
  bool is_terminated() const { return terminated_ || (done_ && tops_.empty()); }
  const CompiledGrammar& compiled() const { return *cg_; }

 private:
  bool advance(std::string_view bytes);
  std::string stack_key(int32_t top) const;
  std::shared_ptr<const std::vector<int32_t>> check_uncertain(int32_t top,
                                                              std::span<const int32_t> uncertain);
  void collect_garbage();

  std::shared_ptr<CompiledGrammar> cg_;
  pda::FrameTable table_;
  pda::Stepper stepper_;
  std::vector<int32_t> tops_;
  bool done_ = false;
  bool terminated_ = false;
  std::vector<pda::StackSet> levels_;  // scratch: per depth of a walk
};

}  // namespace sarathi::grammar
