// model/unicode.cpp: UTF-8 helpers, code-point classes through ICU and the BPE pre-tokenizers.
// The splitters reproduce llama.cpp's src/unicode.cpp (c392e50): the hand-written GPT-2 and
// Llama-3 matchers, and for Qwen2 / the default set what its std::regex fallback computes on
// the category-collapsed text.
#include "model/unicode.h"

#include <unicode/uchar.h>

#include <array>
#include <functional>

#include "core/utf8.h"

namespace sarathi::model::unicode {
namespace {

// A code point outside the fragment being split; no decoded code point can take this value.
constexpr uint32_t kOutOfRange = 0xFFFFFFFF;

// Classes of the code point at a position; `valid` is false past the fragment's end (llama.cpp
// represents that as all-zero flags, and every in-range code point has some flag set).
struct Cls {
  bool valid = false;
  bool letter = false;
  bool number = false;
  bool whitespace = false;
};

std::array<CpFlags, 128> make_ascii_flags() {
  std::array<CpFlags, 128> t{};
  for (uint32_t c = 0; c < 128; ++c) {
    CpFlags& f = t[c];
    f.letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    f.number = c >= '0' && c <= '9';
    f.whitespace = (c >= 0x09 && c <= 0x0D) || c == ' ';
    f.punctuation = (c >= 0x21 && c <= 0x2F && c != '$' && c != '+') ||
                    (c >= 0x3A && c <= 0x40 && c != '<' && c != '=' && c != '>') ||
                    (c >= 0x5B && c <= 0x5F && c != '^') || c == '{' || c == '}';
  }
  return t;
}

// The code points of one text, their classes, and the piece boundaries found so far.
class Splitter {
 public:
  explicit Splitter(std::string_view text) : cpts_(decode_utf8(text)) {
    flags_.reserve(cpts_.size());
    for (uint32_t c : cpts_) flags_.push_back(cp_flags(c));
  }

  const std::vector<uint32_t>& cpts() const { return cpts_; }

  // Re-splits every current piece [ini, end) with `split_one`, which appends piece lengths.
  using SplitFn = std::function<void(size_t ini, size_t end, std::vector<size_t>& out)>;
  void refine(std::vector<size_t>& lengths, const SplitFn& split_one) const {
    std::vector<size_t> out;
    out.reserve(lengths.size());
    size_t start = 0;
    for (size_t len : lengths) {
      split_one(start, start + len, out);
      start += len;
    }
    lengths = std::move(out);
  }

  // llama.cpp unicode_regex_split_custom_gpt2.
  void gpt2(size_t ini, size_t end, std::vector<size_t>& out) const;
  // llama.cpp unicode_regex_split_custom_llama3 with \p{N}{1,max_digits}.
  void llama3(size_t ini, size_t end, size_t max_digits, std::vector<size_t>& out) const;
  // A regex of the form `[class]+`: maximal runs inside and outside the class are pieces.
  void runs(size_t ini, size_t end, const std::function<bool(size_t)>& in_class,
            std::vector<size_t>& out) const;
  // The regex `[0-9][0-9][0-9]`: leftmost non-overlapping triples, the gaps as pieces.
  void digit_triples(size_t ini, size_t end, std::vector<size_t>& out) const;

  bool collapsed_punct(size_t i) const;
  bool collapsed_number(size_t i) const;

 private:
  std::vector<uint32_t> cpts_;
  std::vector<CpFlags> flags_;
};

// Emits piece lengths for one fragment as the matchers advance.
class Emitter {
 public:
  Emitter(size_t ini, std::vector<size_t>& out) : prev_(ini), out_(out) {}
  void to(size_t end) {
    if (end > prev_) out_.push_back(end - prev_);
    prev_ = end;
  }

 private:
  size_t prev_;
  std::vector<size_t>& out_;
};

void Splitter::gpt2(size_t ini, size_t end, std::vector<size_t>& out) const {
  auto cpt = [&](size_t p) { return p < end ? cpts_[p] : kOutOfRange; };
  auto cls = [&](size_t p) {
    if (p >= end) return Cls{};
    const CpFlags& f = flags_[p];
    return Cls{true, f.letter, f.number, f.whitespace};
  };
  Emitter emit(ini, out);
  size_t pos = ini;
  while (pos < end) {
    const uint32_t c = cpt(pos);
    // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
    if (c == '\'' && pos + 1 < end) {
      const uint32_t n1 = cpt(pos + 1);
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        emit.to(pos += 2);
        continue;
      }
      if (pos + 2 < end) {
        const uint32_t n2 = cpt(pos + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          emit.to(pos += 3);
          continue;
        }
      }
    }
    // An optional leading space, then a run of one class.
    const Cls f2 = c == ' ' ? cls(pos + 1) : cls(pos);
    const bool other2 = f2.valid && !(f2.whitespace || f2.letter || f2.number);
    if (f2.letter || f2.number || other2) {
      pos += c == ' ' ? 1 : 0;
      auto same = [&](const Cls& f) {
        if (f2.letter) return f.letter;
        if (f2.number) return f.number;
        return f.valid && !(f.whitespace || f.letter || f.number);
      };
      while (same(cls(pos))) ++pos;
      emit.to(pos);
      continue;
    }
    size_t num_ws = 0;
    while (cls(pos + num_ws).whitespace) ++num_ws;
    if (num_ws > 1 && pos + num_ws < end) {  // \s+(?!\S): leave the last one for the next word
      emit.to(pos += num_ws - 1);
      continue;
    }
    if (num_ws > 0) {  // \s+
      emit.to(pos += num_ws);
      continue;
    }
    emit.to(++pos);  // no match: one code point alone
  }
}

void Splitter::llama3(size_t ini, size_t end, size_t max_digits, std::vector<size_t>& out) const {
  auto cpt = [&](size_t p) { return p < end ? cpts_[p] : kOutOfRange; };
  auto cls = [&](size_t p) {
    if (p >= end) return Cls{};
    const CpFlags& f = flags_[p];
    return Cls{true, f.letter, f.number, f.whitespace};
  };
  Emitter emit(ini, out);
  size_t pos = ini;
  while (pos < end) {
    const uint32_t c = cpt(pos);
    const Cls f = cls(pos);
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c == '\'' && pos + 1 < end) {
      const uint32_t n1 = to_lower(cpt(pos + 1));
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        emit.to(pos += 2);
        continue;
      }
      if (pos + 2 < end) {
        const uint32_t n2 = to_lower(cpt(pos + 2));
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          emit.to(pos += 3);
          continue;
        }
      }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(c == '\r' || c == '\n' || f.number) && (f.letter || cls(pos + 1).letter)) {
      ++pos;
      while (cls(pos).letter) ++pos;
      emit.to(pos);
      continue;
    }
    // \p{N}{1,max_digits}
    if (f.number) {
      size_t group_start = pos;
      while (cls(pos).number) {
        if (++pos - group_start >= max_digits) {
          emit.to(pos);
          group_start = pos;
        }
      }
      emit.to(pos);
      continue;
    }
    // ' '?[^\s\p{L}\p{N}]+[\r\n]*  (llama.cpp tests the unshifted code point's validity here)
    Cls f2 = c == ' ' ? cls(pos + 1) : f;
    if (!(f2.whitespace || f2.letter || f2.number) && f.valid) {
      pos += c == ' ' ? 1 : 0;
      while (f2.valid && !(f2.whitespace || f2.letter || f2.number)) f2 = cls(++pos);
      while (cpt(pos) == '\r' || cpt(pos) == '\n') ++pos;
      emit.to(pos);
      continue;
    }
    size_t num_ws = 0;
    size_t last_newline_end = 0;
    while (cls(pos + num_ws).whitespace) {
      const uint32_t w = cpt(pos + num_ws);
      if (w == '\r' || w == '\n') last_newline_end = pos + num_ws + 1;
      ++num_ws;
    }
    if (last_newline_end > 0) {  // \s*[\r\n]+
      emit.to(pos = last_newline_end);
      continue;
    }
    if (num_ws > 1 && pos + num_ws < end) {  // \s+(?!\S)
      emit.to(pos += num_ws - 1);
      continue;
    }
    if (num_ws > 0) {  // \s+
      emit.to(pos += num_ws);
      continue;
    }
    emit.to(++pos);
  }
}

void Splitter::runs(size_t ini, size_t end, const std::function<bool(size_t)>& in_class,
                    std::vector<size_t>& out) const {
  size_t pos = ini;
  while (pos < end) {
    const bool inside = in_class(pos);
    const size_t run_start = pos;
    while (pos < end && in_class(pos) == inside) ++pos;
    out.push_back(pos - run_start);
  }
}

void Splitter::digit_triples(size_t ini, size_t end, std::vector<size_t>& out) const {
  auto digit = [&](size_t p) { return cpts_[p] >= '0' && cpts_[p] <= '9'; };
  Emitter emit(ini, out);
  size_t pos = ini;
  while (pos < end) {
    if (pos + 3 <= end && digit(pos) && digit(pos + 1) && digit(pos + 2)) {
      emit.to(pos);  // the gap before the match
      emit.to(pos += 3);
      continue;
    }
    ++pos;
  }
  emit.to(end);
}

// `[\p{P}\$\+<=>\^~\|]` as llama.cpp's std::regex fallback sees it on the collapsed text: ASCII
// as listed in its category map (every ASCII punctuation or symbol except '`'), other code
// points by category.
bool Splitter::collapsed_punct(size_t i) const {
  const uint32_t c = cpts_[i];
  if (c < 128)
    return flags_[i].punctuation || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
           c == '^' || c == '~' || c == '|';
  return flags_[i].punctuation && !flags_[i].whitespace;
}

bool Splitter::collapsed_number(size_t i) const {
  return flags_[i].number && !(cpts_[i] >= 128 && flags_[i].whitespace);
}

}  // namespace

size_t utf8_seq_len(uint8_t lead) {
  static constexpr std::array<uint8_t, 16> kLen = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

std::vector<uint32_t> decode_utf8(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const size_t n = text.size();
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  auto cont = [&](size_t i) { return i < n && (byte(i) & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < n) {
    const uint8_t b = byte(i);
    if (b < 0x80) {
      out.push_back(b);
      i += 1;
    } else if ((b & 0xE0) == 0xC0 && cont(i + 1)) {
      out.push_back((uint32_t{b} & 0x1F) << 6 | (byte(i + 1) & 0x3Fu));
      i += 2;
    } else if ((b & 0xF0) == 0xE0 && cont(i + 1) && cont(i + 2)) {
      out.push_back((uint32_t{b} & 0x0F) << 12 | (byte(i + 1) & 0x3Fu) << 6 |
                    (byte(i + 2) & 0x3Fu));
      i += 3;
    } else if ((b & 0xF8) == 0xF0 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      out.push_back((uint32_t{b} & 0x07) << 18 | (byte(i + 1) & 0x3Fu) << 12 |
                    (byte(i + 2) & 0x3Fu) << 6 | (byte(i + 3) & 0x3Fu));
      i += 4;
    } else {
      out.push_back(kReplacementChar);  // llama.cpp skips one byte and substitutes U+FFFD
      i += 1;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt > 0x10FFFF) cpt = kReplacementChar;  // llama.cpp throws here; we substitute
  core::utf8::append(cpt, out);
}

CpFlags cp_flags(uint32_t cpt) {
  static const std::array<CpFlags, 128> kAscii = make_ascii_flags();
  if (cpt < 128) return kAscii[cpt];
  if (cpt > 0x10FFFF) return CpFlags{};  // llama.cpp: "undefined", i.e. none of these classes
  const auto c = static_cast<UChar32>(cpt);
  const uint32_t mask = U_MASK(u_charType(c));
  CpFlags f;
  f.letter = (mask & U_GC_L_MASK) != 0;
  f.number = (mask & U_GC_N_MASK) != 0;
  f.punctuation = (mask & U_GC_P_MASK) != 0;
  f.whitespace = u_hasBinaryProperty(c, UCHAR_WHITE_SPACE) != 0;
  return f;
}

uint32_t to_lower(uint32_t cpt) {
  if (cpt < 128) return (cpt >= 'A' && cpt <= 'Z') ? cpt + 32 : cpt;
  if (cpt > 0x10FFFF) return cpt;
  return static_cast<uint32_t>(u_tolower(static_cast<UChar32>(cpt)));
}

namespace {

// GPT-2 bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes for
// U+0100.. in byte order.
struct ByteMap {
  std::array<std::string, 256> symbol;
  std::array<int16_t, 0x144> byte_of;  // indexed by code point; the symbols end at U+0143
  ByteMap() {
    byte_of.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cpt = printable ? b : next++;
      append_utf8(symbol[b], cpt);
      byte_of[cpt] = static_cast<int16_t>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace

const std::string& byte_to_symbol(uint8_t b) { return byte_map().symbol[b]; }

int symbol_to_byte(uint32_t cpt) {
  return cpt < byte_map().byte_of.size() ? byte_map().byte_of[cpt] : -1;
}

std::vector<std::string> pre_tokenize(std::string_view text, PreTokenizer kind) {
  const Splitter s(text);
  std::vector<size_t> lengths = {s.cpts().size()};
  if (s.cpts().empty()) return {};
  switch (kind) {
    case PreTokenizer::kGpt2:
      s.refine(lengths, [&](size_t a, size_t b, std::vector<size_t>& o) { s.gpt2(a, b, o); });
      break;
    case PreTokenizer::kLlama3:
    case PreTokenizer::kQwen2: {
      const size_t max_digits = kind == PreTokenizer::kLlama3 ? 3 : 1;
      s.refine(lengths,
               [&](size_t a, size_t b, std::vector<size_t>& o) { s.llama3(a, b, max_digits, o); });
      break;
    }
    case PreTokenizer::kDefault: {
      const auto punct = [&](size_t i) { return s.collapsed_punct(i); };
      const auto number = [&](size_t i) { return s.collapsed_number(i); };
      s.refine(lengths,
               [&](size_t a, size_t b, std::vector<size_t>& o) { s.runs(a, b, punct, o); });
      s.refine(lengths, [&](size_t a, size_t b, std::vector<size_t>& o) { s.gpt2(a, b, o); });
      s.refine(lengths,
               [&](size_t a, size_t b, std::vector<size_t>& o) { s.runs(a, b, number, o); });
      s.refine(lengths,
               [&](size_t a, size_t b, std::vector<size_t>& o) { s.digit_triples(a, b, o); });
      break;
    }
  }
  std::vector<std::string> pieces;
  pieces.reserve(lengths.size());
  size_t start = 0;
  for (size_t len : lengths) {
    std::string& piece = pieces.emplace_back();
    for (size_t i = start; i < start + len; ++i) append_utf8(piece, s.cpts()[i]);
    start += len;
  }
  return pieces;
}

size_t append_lossy_utf8(std::string_view bytes, bool final, std::string& out) {
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    // Well-formed sequences (Unicode table 3-7): the second byte's range depends on the lead.
    size_t need = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    }
    size_t k = 1;  // bytes of this sequence that are valid so far
    bool broken = need == 0;
    while (!broken && k <= need && i + k < n) {
      const auto c = static_cast<uint8_t>(bytes[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) {
        broken = true;
      } else {
        ++k;
      }
    }
    if (!broken && k > need) {
      out.append(bytes.substr(i, need + 1));
      i += need + 1;
      continue;
    }
    if (!broken && !final) return i;  // an incomplete sequence at the end: wait for more
    out.append("\xEF\xBF\xBD");       // one U+FFFD per maximal ill-formed subpart
    i += k;
  }
  return n;
}

}  // namespace sarathi::model::unicode
