#include "grammar/regex.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "grammar/grammar.h"
#include "core/utf8.h"

namespace sarathi::grammar {
namespace {

using core::ErrorCode;
using core::make_error;

constexpr uint32_t kMax = 0x10FFFF;
using Ranges = std::vector<CodeRange>;

Ranges normalize(Ranges r) {
  std::sort(r.begin(), r.end(), [](const CodeRange& a, const CodeRange& b) { return a.lo < b.lo; });
  Ranges out;
  for (const CodeRange& x : r) {
    if (!out.empty() && x.lo <= out.back().hi + 1)
      out.back().hi = std::max(out.back().hi, x.hi);
    else
      out.push_back(x);
  }
  return out;
}

Ranges complement(const Ranges& r) {
  Ranges out;
  uint32_t next = 0;
  for (const CodeRange& x : normalize(r)) {
    if (x.lo > next) out.push_back({next, x.lo - 1});
    next = x.hi + 1;
  }
  if (next <= kMax) out.push_back({next, kMax});
  return out;
}

Ranges subtract(const Ranges& a, const Ranges& b) {
  Ranges both = complement(a);
  both.insert(both.end(), b.begin(), b.end());
  return complement(both);
}

void class_char(uint32_t cp, std::string& out) {
  if (cp == '\\' || cp == ']' || cp == '[' || cp == '-' || cp == '^' || cp == '"') {
    out += '\\';
    out += static_cast<char>(cp);
  } else if (cp < 0x20 || cp == 0x7F) {
    out += fmt::format("\\x{:02X}", cp);
  } else if (cp >= 0x80 && cp < 0xA0) {
    out += fmt::format("\\u{:04X}", cp);
  } else if (cp >= 0xD800 && cp <= 0xDFFF) {
    out += fmt::format("\\u{:04X}", cp);
  } else {
    core::utf8::append(cp, out);
  }
}

std::string class_text(const Ranges& r) {
  std::string s = "[";
  for (const CodeRange& x : r) {
    class_char(x.lo, s);
    if (x.hi != x.lo) {
      s += '-';
      class_char(x.hi, s);
    }
  }
  return s + "]";
}

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kSpace = {{'\t', '\r'}, {' ', ' '}};

class RegexParser {
 public:
  RegexParser(std::string_view re, const RegexOptions& o) : s_(re), opts_(o) {}

  core::Result<std::string> run() {
    if (p_ < s_.size() && s_[p_] == '^') ++p_;
    std::string e = alternation();
    if (!error_ && p_ < s_.size()) fail(s_[p_] == ')' ? "unbalanced ')'" : "unexpected character");
    if (error_) return *error_;
    return e.empty() ? std::string("\"\"") : e;
  }

 private:
  void fail(const std::string& what) {
    if (!error_) error_ = make_error(ErrorCode::kInvalidArgument, "regex offset {}: {}", p_, what);
  }
  bool at(char c) const { return p_ < s_.size() && s_[p_] == c; }

  std::string alternation() {
    std::vector<std::string> alts{concatenation()};
    while (!error_ && at('|')) {
      ++p_;
      alts.push_back(concatenation());
    }
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i)
      out += (i ? " | " : "") + (alts[i].empty() ? std::string("\"\"") : alts[i]);
    return out + ")";
  }

  std::string concatenation() {
    std::string out;
    while (!error_ && p_ < s_.size() && !at('|') && !at(')')) {
      if (at('$') && p_ + 1 == s_.size()) {
        ++p_;
        break;
      }
      std::string atom_text = atom();
      if (error_) break;
      atom_text = quantified(atom_text);
      if (!out.empty()) out += ' ';
      out += atom_text;
    }
    return out;
  }

  std::string quantified(const std::string& atom_text) {
    if (p_ >= s_.size()) return atom_text;
    std::string q;
    const char c = s_[p_];
    if (c == '*' || c == '+' || c == '?') {
      q = std::string(1, c);
      ++p_;
    } else if (c == '{') {
      const size_t start = p_;
      ++p_;
      const size_t a = p_;
      while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
      std::string lo(s_.substr(a, p_ - a)), hi = lo;
      bool open = false;
      if (at(',')) {
        ++p_;
        const size_t b = p_;
        while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
        hi = std::string(s_.substr(b, p_ - b));
        open = hi.empty();
      }
      if (lo.empty() || !at('}')) {  // not a quantifier: a literal '{' (as Python reads it)
        p_ = start;
        return atom_text;
      }
      ++p_;
      q = open ? "{" + lo + ",}" : "{" + lo + "," + hi + "}";
    } else {
      return atom_text;
    }
    if (at('?')) ++p_;  // lazy: same language
    if (at('*') || at('+') || at('?'))
      fail("multiple repeat (possessive quantifiers are not supported)");
    return "(" + atom_text + ")" + q;
  }

  std::optional<uint32_t> hex(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i, ++p_) {
      if (p_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[p_]))) {
        fail("malformed hexadecimal escape");
        return std::nullopt;
      }
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s_[p_])));
      v = v * 16 + static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return v;
  }

  /// An escape after '\': a set of code points (one for a plain escaped character).
  std::optional<Ranges> escape(bool in_class) {
    if (p_ >= s_.size()) {
      fail("trailing backslash");
      return std::nullopt;
    }
    const char c = s_[p_++];
    switch (c) {
      case 'd':
        return kDigit;
      case 'D':
        return complement(kDigit);
      case 'w':
        return kWord;
      case 'W':
        return complement(kWord);
      case 's':
        return kSpace;
      case 'S':
        return complement(kSpace);
      case 'n':
        return Ranges{{'\n', '\n'}};
      case 't':
        return Ranges{{'\t', '\t'}};
      case 'r':
        return Ranges{{'\r', '\r'}};
      case 'f':
        return Ranges{{'\f', '\f'}};
      case 'v':
        return Ranges{{'\v', '\v'}};
      case '0':
        return Ranges{{0, 0}};
      case 'x': {
        auto v = hex(2);
        if (!v) return std::nullopt;
        return Ranges{{*v, *v}};
      }
      case 'u': {
        auto v = hex(4);
        if (!v) return std::nullopt;
        return Ranges{{*v, *v}};
      }
      case 'b':
        if (in_class) return Ranges{{'\b', '\b'}};
        --p_;
        fail("word boundaries (\\b) are not supported");
        return std::nullopt;
      default:
        if (std::isalnum(static_cast<unsigned char>(c))) {
          --p_;
          fail(fmt::format("escape '\\{}' is not supported", c));
          return std::nullopt;
        }
        return Ranges{{static_cast<uint8_t>(c), static_cast<uint8_t>(c)}};
    }
  }

  std::optional<uint32_t> literal_char() {
    auto cp = core::utf8::decode(s_.substr(p_));
    if (!cp) {
      fail("invalid UTF-8");
      return std::nullopt;
    }
    p_ += cp->second;
    return cp->first;
  }

  std::string atom() {
    const char c = s_[p_];
    if (c == '(') {
      ++p_;
      if (at('?')) {
        ++p_;
        if (at(':')) {
          ++p_;
        } else if (at('P') && p_ + 1 < s_.size() && s_[p_ + 1] == '<') {
          p_ = s_.find('>', p_);
          if (p_ == std::string_view::npos) return fail("unterminated group name"), "";
          ++p_;
        } else if (at('<') && p_ + 1 < s_.size() && s_[p_ + 1] != '=' && s_[p_ + 1] != '!') {
          p_ = s_.find('>', p_);
          if (p_ == std::string_view::npos) return fail("unterminated group name"), "";
          ++p_;
        } else {
          return fail("lookarounds and inline flags are not supported"), "";
        }
      }
      std::string inner = alternation();
      if (!at(')')) return fail("missing ')'"), "";
      ++p_;
      return "(" + (inner.empty() ? std::string("\"\"") : inner) + ")";
    }
    if (c == '[') return char_class();
    if (c == '.') {
      ++p_;
      return set(complement({{'\n', '\n'}}));
    }
    if (c == '*' || c == '+' || c == '?') return fail("nothing to repeat"), "";
    if (c == '^' || c == '$') return fail("anchors are only supported at the ends"), "";
    if (c == '\\') {
      ++p_;
      if (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_])) && s_[p_] != '0')
        return fail("backreferences are not supported"), "";
      auto r = escape(false);
      if (!r) return "";
      return set(*r);
    }
    auto cp = literal_char();
    if (!cp) return "";
    return set({{*cp, *cp}});
  }

  std::string char_class() {
    ++p_;  // '['
    const bool negated = at('^');
    if (negated) ++p_;
    Ranges r;
    bool first = true;
    while (p_ < s_.size() && (first || !at(']'))) {
      first = false;
      std::optional<Ranges> lo;
      if (at('\\')) {
        ++p_;
        lo = escape(true);
      } else {
        auto cp = literal_char();
        if (cp) lo = Ranges{{*cp, *cp}};
      }
      if (!lo) return "";
      if (lo->size() == 1 && lo->front().lo == lo->front().hi && at('-') && p_ + 1 < s_.size() &&
          s_[p_ + 1] != ']') {
        ++p_;
        std::optional<Ranges> hi;
        if (at('\\')) {
          ++p_;
          hi = escape(true);
        } else {
          auto cp = literal_char();
          if (cp) hi = Ranges{{*cp, *cp}};
        }
        if (!hi) return "";
        if (hi->size() != 1 || hi->front().lo != hi->front().hi || hi->front().lo < lo->front().lo)
          return fail("bad character range"), "";
        r.push_back({lo->front().lo, hi->front().lo});
      } else {
        r.insert(r.end(), lo->begin(), lo->end());
      }
    }
    if (!at(']')) return fail("unterminated character class"), "";
    ++p_;
    return set(negated ? complement(r) : normalize(r));
  }

  // A set of characters as GBNF; in a JSON string, the characters that JSON escapes are
  // spelled as their escapes.
  std::string set(const Ranges& r0) {
    Ranges r = normalize(r0);
    if (r.empty()) {
      fail("empty character class");
      return "";
    }
    if (!opts_.json_string) {
      if (r.size() == 1 && r[0].lo == r[0].hi) {
        std::string lit;
        core::utf8::append(r[0].lo, lit);
        return gbnf_literal(lit);
      }
      return class_text(r);
    }
    const Ranges special = {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}};
    Ranges plain = subtract(r, special);
    std::vector<std::string> alts;
    if (!plain.empty()) {
      if (plain.size() == 1 && plain[0].lo == plain[0].hi) {
        std::string lit;
        core::utf8::append(plain[0].lo, lit);
        alts.push_back(gbnf_literal(lit));
      } else {
        alts.push_back(class_text(plain));
      }
    }
    auto has = [&](uint32_t cp) {
      return std::any_of(r.begin(), r.end(),
                         [&](const CodeRange& x) { return cp >= x.lo && cp <= x.hi; });
    };
    if (has('"')) alts.push_back("\"\\\\\\\"\"");
    if (has('\\')) alts.push_back("\"\\\\\\\\\"");
    const std::pair<uint32_t, const char*> shorts[] = {{'\n', "\"\\\\n\""},
                                                       {'\t', "\"\\\\t\""},
                                                       {'\r', "\"\\\\r\""},
                                                       {'\b', "\"\\\\b\""},
                                                       {'\f', "\"\\\\f\""}};
    for (uint32_t cp = 0; cp < 0x20; ++cp) {
      if (!has(cp)) continue;
      bool done = false;
      for (const auto& [s, text] : shorts)
        if (s == cp) alts.push_back(text), done = true;
      if (!done) alts.push_back(gbnf_literal(fmt::format("\\u{:04x}", cp)));
    }
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
    return out + ")";
  }

  std::string_view s_;
  RegexOptions opts_;
  size_t p_ = 0;
  std::optional<core::Error> error_;
};

}  // namespace

core::Result<std::string> regex_to_gbnf_expr(std::string_view regex, const RegexOptions& options) {
  return RegexParser(regex, options).run();
}

core::Result<std::string> regex_to_gbnf(std::string_view regex) {
  SARATHI_ASSIGN_OR_RETURN(std::string e, regex_to_gbnf_expr(regex));
  return "root ::= " + e + "\n";
}

core::Result<std::string> choices_to_gbnf(std::span<const std::string> choices) {
  if (choices.empty())
    return make_error(ErrorCode::kInvalidArgument, "at least one choice is needed");
  std::string out = "root ::= ";
  for (size_t i = 0; i < choices.size(); ++i) out += (i ? " | " : "") + gbnf_literal(choices[i]);
  return out + "\n";
}

}  // namespace sarathi::grammar
