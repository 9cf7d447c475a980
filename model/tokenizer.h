// model/tokenizer.h: tokenizers built from GGUF vocabulary metadata, matching llama.cpp:
// SentencePiece-style (`llama`: scores, byte fallback, dummy-prefix space) and GPT-2 byte-level
// BPE (`gpt2`: merges and the pre-tokenizer regexes named by tokenizer.ggml.pre).
// Depends on core/ and model/gguf.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/gguf.h"

namespace sarathi::model {

using TokenId = int32_t;

/// Token attribute, from tokenizer.ggml.token_type (llama.cpp's llama_token_type numbering).
enum class TokenType : int32_t {
  kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5,
  kByte = 6,
};

enum class VocabKind { kSpm, kBpe };

/// Everything a tokenizer is built from (what tokenizer.ggml.* holds).
struct VocabData {
  VocabKind kind = VocabKind::kSpm;
  std::string pre = "default";           // tokenizer.ggml.pre (BPE pre-tokenizer name)
  std::vector<std::string> tokens;
  std::vector<float> scores;             // may be empty
  std::vector<TokenType> types;          // may be empty (all normal)
  std::vector<std::string> merges;       // BPE: "a b" pairs in priority order
  TokenId bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1, eot_id = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;          // SPM dummy prefix
  /// SPM: spaces become U+2581 before merging (llama.cpp always does this). byte_level_vocab
  /// turns it off so that a space is the byte token <0x20> and text round-trips byte for byte.
  bool escape_whitespace = true;
};

/// Reads tokenizer.ggml.* from a GGUF file with llama.cpp's defaults for absent keys.
core::Result<VocabData> read_vocab(const GgufFile& file);

/// A byte-level vocabulary of n_vocab tokens for synthetic models: <unk>, <s>, </s>, the 256
/// byte tokens <0x00>..<0xFF>, then unused filler tokens. Needs n_vocab >= 259.
VocabData byte_level_vocab(int32_t n_vocab);

class Tokenizer {
 public:
  static core::Result<std::unique_ptr<Tokenizer>> create(VocabData vocab);
  static core::Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& file);
  ~Tokenizer();

  /// llama_tokenize: add_special prepends BOS when the vocabulary says so (and EOS likewise);
  /// parse_special turns text that spells a control/unknown token into that token (user-defined
  /// tokens are always split out). SPM puts a dummy space before the text at the start and
  /// after each special token. Thread-safe: the tokenizer is immutable after create().
  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const;

  /// llama_detokenize: concatenated pieces; remove_special drops a leading BOS / trailing EOS
  /// (when the vocabulary adds them); unparse_special renders control tokens as their text.
  /// As in llama.cpp, with a dummy-prefix vocabulary the first piece loses one leading space
  /// unless a BOS was dropped, so SPM gives " " + text after a BOS. BPE vocabularies apply
  /// llama.cpp's clean-up of spaces before punctuation unless their pre-tokenizer disables it.
  std::string decode(std::span<const TokenId> ids, bool remove_special,
                     bool unparse_special) const;

  /// llama_token_to_piece(id, lstrip=0, special): the bytes of one token ("▁" -> " ", byte
  /// tokens -> the raw byte, GPT-2 byte symbols -> raw bytes); control tokens render only
  /// when `special`.
  std::string token_to_piece(TokenId id, bool special) const;

  int32_t n_vocab() const;
  TokenId bos_id() const;
  TokenId eos_id() const;
  bool add_bos() const;
  /// End of generation: EOS, EOT and similar.
  bool is_eog(TokenId id) const;
  bool is_control(TokenId id) const;
  const VocabData& vocab() const;

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Streaming detokenizer: feed token ids one at a time and get back only complete UTF-8 text,
/// never a broken sequence; flush() returns what is left (invalid bytes as U+FFFD).
class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tokenizer, bool special = false)
      : tok_(tokenizer), special_(special) {}
  /// Appends a token; returns the text that is now complete.
  std::string push(TokenId id);
  /// Returns any buffered bytes (incomplete sequences become U+FFFD) and clears the buffer.
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool special_;
  std::string pending_;
};

}  // namespace sarathi::model
