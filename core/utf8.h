// core/utf8.h: UTF-8 encoding and decoding of single code points (strict: no overlong forms,
// no surrogates, nothing above U+10FFFF). Header-only; depends on nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sarathi::core::utf8 {

/// Appends cp (<= 0x10FFFF) as UTF-8.
inline void append(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Length of the sequence a lead byte starts (1-4), or 0 for a byte that cannot start one.
inline int sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

/// Smallest code point a sequence of `len` bytes may encode.
inline uint32_t min_code_point(int len) {
  return len == 1 ? 0 : len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
}

/// The first code point of s and its length in bytes; nullopt when s does not start with a
/// complete, valid sequence.
inline std::optional<std::pair<uint32_t, size_t>> decode(std::string_view s) {
  if (s.empty()) return std::nullopt;
  const auto lead = static_cast<uint8_t>(s[0]);
  const int len = sequence_length(lead);
  if (len == 0 || s.size() < static_cast<size_t>(len)) return std::nullopt;
  if (len == 1) return std::pair<uint32_t, size_t>{lead, 1};
  uint32_t cp = lead & (0x7F >> len);
  for (int i = 1; i < len; ++i) {
    const auto c = static_cast<uint8_t>(s[static_cast<size_t>(i)]);
    if ((c & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min_code_point(len) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return std::nullopt;
  return std::pair<uint32_t, size_t>{cp, static_cast<size_t>(len)};
}

}  // namespace sarathi::core::utf8
