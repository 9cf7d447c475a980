// model/unicode.h: UTF-8 and code-point helpers for the tokenizers, matching llama.cpp's
// src/unicode.cpp: lenient UTF-8 decoding, \p{L}/\p{N}/\s classes (from ICU), the GPT-2
// byte<->symbol map, the BPE pre-tokenizer splitters and lossy UTF-8 repair for streaming.
// Depends on the standard library and ICU (uc) only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sarathi::model::unicode {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

/// Length of the UTF-8 sequence announced by a lead byte (llama.cpp unicode_len_utf8): 1 for
/// ASCII and stray continuation bytes, 2/3/4 by the high nibble. No validation.
size_t utf8_seq_len(uint8_t lead);

/// Decodes like llama.cpp unicode_cpts_from_utf8: well-formed (and over-long or surrogate)
/// sequences decode, any byte that starts no sequence becomes one U+FFFD.
std::vector<uint32_t> decode_utf8(std::string_view text);

/// Appends the UTF-8 encoding of `cpt`; values above U+10FFFF append U+FFFD.
void append_utf8(std::string& out, uint32_t cpt);

/// The code-point classes the pre-tokenizers use (llama.cpp unicode_cpt_flags).
struct CpFlags {
  bool letter = false;       // \p{L}
  bool number = false;       // \p{N}
  bool punctuation = false;  // \p{P}
  bool whitespace = false;   // \s: the Unicode White_Space property
};

/// Classes of one code point (ICU general category and White_Space).
CpFlags cp_flags(uint32_t cpt);

/// Simple lower-case mapping.
uint32_t to_lower(uint32_t cpt);

/// GPT-2 bytes_to_unicode: the UTF-8 of the printable symbol that stands for byte `b`.
const std::string& byte_to_symbol(uint8_t b);

/// Inverse of byte_to_symbol for one code point; -1 if it stands for no byte.
int symbol_to_byte(uint32_t cpt);

/// Which of llama.cpp's pre-tokenizer regex sets to apply.
enum class PreTokenizer {
  kDefault,  // llama.cpp LLAMA_VOCAB_PRE_TYPE_DEFAULT: punctuation runs, GPT-2, \p{N}+, 3 digits
  kGpt2,     // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
  kLlama3,   // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|...
  kQwen2,    // as kLlama3 but \p{N} (one digit per piece)
};

/// Splits text into pre-tokens as llama.cpp's unicode_regex_split does (before the byte-level
/// encoding). Pieces are UTF-8; invalid input bytes come back as U+FFFD.
std::vector<std::string> pre_tokenize(std::string_view text, PreTokenizer kind);

/// Appends the lossy UTF-8 decoding of `bytes` to `out`: well-formed sequences are copied, each
/// maximal ill-formed subpart becomes one U+FFFD (as Python's errors="replace"). When `final`
/// is false an incomplete sequence at the end is left alone. Returns the bytes consumed.
size_t append_lossy_utf8(std::string_view bytes, bool final, std::string& out);

}  // namespace sarathi::model::unicode
