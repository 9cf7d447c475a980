// model/tokenizer_merge.h: internals of model/tokenizer.cpp: the SentencePiece bigram merge and
// the BPE rank merge (llama.cpp llm_tokenizer_spm_session / llm_tokenizer_bpe_session), and the
// helpers that turn token texts back into bytes. Not part of the public tokenizer interface.
// Depends on model/tokenizer.h (TokenId) and the standard library.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/tokenizer.h"

namespace sarathi::model {

/// Hash that lets unordered maps keyed by std::string be searched with a std::string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;
/// Merge rank by "left right" (split at the first space after the first byte, as llama.cpp).
using BpeRanks = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct SpmVocab {
  const TokenMap& token_to_id;
  const std::vector<float>& scores;
  const std::array<TokenId, 256>& byte_token;  // byte fallback (<0xNN>, else the byte, else unk)
};

/// SentencePiece BPE on already-escaped text: merge the best-scoring adjacent pair that is a
/// token (ties: leftmost), then emit each symbol as a token or as byte-fallback tokens.
void spm_tokenize(std::string_view text, const SpmVocab& vocab, std::vector<TokenId>& out);

/// The rank table for tokenizer.ggml.merges (the first occurrence of a pair wins).
BpeRanks make_bpe_ranks(const std::vector<std::string>& merges);

struct BpeVocab {
  const TokenMap& token_to_id;
  const BpeRanks& ranks;
  bool ignore_merges;  // a word that is itself a token is emitted whole (Llama-3)
};

/// Byte-level BPE of one byte-encoded pre-token: merge the lowest-rank adjacent pair (ties:
/// leftmost) until none is left; symbols that are not tokens fall back to one-byte tokens.
void bpe_tokenize_word(std::string_view word, const BpeVocab& vocab, std::vector<TokenId>& out);

/// SentencePiece piece to text: U+2581 becomes a space.
std::string unescape_spm(std::string_view text);

/// GPT-2 byte-level token text to bytes (llama.cpp llama_decode_text, including its
/// "[UNK_BYTE_0x..]" rendering of code points that stand for no byte).
std::string decode_byte_level(std::string_view text);

/// The byte of an SPM byte token "<0xNN>" (llama.cpp: strtol of text[3..5), base 16).
int parse_byte_token(std::string_view text);

/// llama.cpp's clean_up_tokenization_spaces passes: " ?" " !" " ." " ," lose the space, a lone
/// " ' " loses both spaces, " 's" " 'm" " 're" " 've" lose the space.
std::string clean_up_spaces(std::string_view text);

}  // namespace sarathi::model
