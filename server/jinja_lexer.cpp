// Lexer: template text → tokens, with Jinja's whitespace control ({%- -%}, {{- -}}, {#- -#},
// {%+ +%}) and HF's trim_blocks / lstrip_blocks, and Python-style string escapes.
#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "server/jinja_ast.h"

namespace sarathi::server::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string normalize_newlines(std::string_view source) {
  std::string s;
  s.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      s += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      s += source[i];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();  // Jinja's keep_trailing_newline=False
  return s;
}

class Lexer {
 public:
  Lexer(std::string src, const LexOptions& opts) : src_(std::move(src)), opts_(opts) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      lex_text(tag == std::string::npos ? src_.size() : tag);
      if (tag == std::string::npos) break;
      const char kind = src_[tag + 1];
      if (kind == '#') {
        lex_comment();
      } else {
        lex_tag(kind);
      }
    }
    push(Tok::kEof, "");
    return std::move(out_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
        return i;
    }
    return std::string::npos;
  }

  void push(Tok type, std::string text) {
    Token t;
    t.type = type;
    t.text = std::move(text);
    t.line = line_;
    out_.push_back(std::move(t));
  }

  void count_lines(size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) line_ += src_[i] == '\n';
  }

  /// Emits the text in [pos_, end) after whitespace control, and moves pos_ past the tag's
  /// opening delimiter and its -/+ marker.
  void lex_text(size_t end) {
    size_t begin = pos_;
    if (lstrip_next_)
      while (begin < end && is_space(src_[begin])) ++begin;
    lstrip_next_ = false;
    std::string_view text(src_.data() + begin, end - begin);
    const int text_line = line_;
    count_lines(pos_, end);
    pos_ = end;
    if (end < src_.size()) {
      const char kind = src_[end + 1];
      size_t p = end + 2;
      const char ctl = (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ? src_[p] : 0;
      if (ctl) ++p;
      if (ctl == '-') {
        while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
      } else if (ctl != '+' && opts_.lstrip_blocks && kind != '{') {
        text = lstrip_block(text, begin);
      }
      pos_ = p;
    }
    if (!text.empty()) {
      Token t;
      t.type = Tok::kText;
      t.text = std::string(text);
      t.line = text_line;
      out_.push_back(std::move(t));
    }
  }

  /// lstrip_blocks: drops spaces and tabs between the start of the line and a block tag.
  std::string_view lstrip_block(std::string_view text, size_t begin) const {
    const size_t nl = text.rfind('\n');
    const size_t line_pos = nl == std::string_view::npos ? 0 : nl + 1;
    const bool line_starting =
        nl != std::string_view::npos || begin == 0 || src_[begin - 1] == '\n';
    if (!line_starting) return text;
    for (size_t i = line_pos; i < text.size(); ++i)
      if (text[i] != ' ' && text[i] != '\t') return text;
    return text.substr(0, line_pos);
  }

  void lex_comment() {
    const size_t close = src_.find("#}", pos_);
    if (close == std::string::npos) throw_error(line_, "syntax error: unclosed comment");
    const char ctl = close > pos_ ? src_[close - 1] : 0;
    count_lines(pos_, close);
    pos_ = close + 2;
    finish_tag(ctl, /*is_block=*/true);
  }

  /// After a closing delimiter: "-" strips following whitespace; trim_blocks drops one newline
  /// after a block or comment unless "+" was given.
  void finish_tag(char ctl, bool is_block) {
    if (ctl == '-') {
      lstrip_next_ = true;
    } else if (ctl != '+' && is_block && opts_.trim_blocks && pos_ < src_.size() &&
               src_[pos_] == '\n') {
      ++pos_;
      ++line_;
    }
  }

  bool at(std::string_view s) const { return src_.compare(pos_, s.size(), s) == 0; }

  /// Tries the closing delimiter at depth 0; returns true when the tag ended.
  bool try_close(char kind) {
    const std::string_view close = kind == '{' ? "}}" : "%}";
    char ctl = 0;
    if ((src_[pos_] == '-' || src_[pos_] == '+') && src_.compare(pos_ + 1, 2, close) == 0) {
      ctl = src_[pos_];
      pos_ += 1;
    } else if (!at(close)) {
      return false;
    }
    pos_ += 2;
    push(kind == '{' ? Tok::kVarEnd : Tok::kBlockEnd, std::string(close));
    finish_tag(ctl, kind == '%');
    return true;
  }

  void lex_tag(char kind) {
    const int tag_line = line_;
    push(kind == '{' ? Tok::kVarBegin : Tok::kBlockBegin, kind == '{' ? "{{" : "{%");
    const size_t first_token = out_.size();
    int depth = 0;
    for (;;) {
      while (pos_ < src_.size() && is_space(src_[pos_])) line_ += src_[pos_++] == '\n';
      if (pos_ >= src_.size())
        throw_error(tag_line,
                    kind == '{' ? "syntax error: unclosed '{{'" : "syntax error: unclosed '{%'");
      if (depth == 0 && try_close(kind)) break;
      const char c = src_[pos_];
      if (is_name_start(c)) {
        lex_name();
      } else if (is_digit(c)) {
        lex_number();
      } else if (c == '\'' || c == '"') {
        lex_string(c);
      } else {
        lex_operator(depth);
      }
    }
    if (kind == '%' && out_.size() == first_token + 2 && out_[first_token].type == Tok::kName &&
        out_[first_token].text == "raw")
      lex_raw(first_token);
  }

  void lex_name() {
    const size_t start = pos_;
    while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
    push(Tok::kName, src_.substr(start, pos_ - start));
  }

  void lex_number() {
    const size_t start = pos_;
    while (pos_ < src_.size() && is_digit(src_[pos_])) ++pos_;
    const bool after_dot = !out_.empty() && out_.back().type == Tok::kOp && out_.back().text == ".";
    bool is_float = false;
    if (!after_dot && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      ++pos_;
      while (pos_ < src_.size() && is_digit(src_[pos_])) ++pos_;
    }
    if (!after_dot && pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        is_float = true;
        pos_ = p;
        while (pos_ < src_.size() && is_digit(src_[pos_])) ++pos_;
      }
    }
    const std::string text = src_.substr(start, pos_ - start);
    Token t;
    t.line = line_;
    t.text = text;
    if (is_float) {
      t.type = Tok::kFloat;
      t.float_value = std::strtod(text.c_str(), nullptr);
    } else {
      t.type = Tok::kInt;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), t.int_value);
      if (ec != std::errc()) throw_error(line_, "syntax error: integer literal out of range");
    }
    out_.push_back(std::move(t));
  }

  /// Python's unicode-escape decoding of the string body (unknown escapes stay as written).
  void lex_string(char quote) {
    const int start_line = line_;
    std::string value;
    ++pos_;
    for (;;) {
      if (pos_ >= src_.size()) throw_error(start_line, "syntax error: unterminated string");
      const char c = src_[pos_++];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos_ >= src_.size()) throw_error(start_line, "syntax error: unterminated string");
      lex_escape(value);
    }
    Token t;
    t.type = Tok::kString;
    t.text = std::move(value);
    t.line = start_line;
    out_.push_back(std::move(t));
  }

  void lex_escape(std::string& value) {
    const char e = src_[pos_++];
    switch (e) {
      case 'n':
        value += '\n';
        return;
      case 't':
        value += '\t';
        return;
      case 'r':
        value += '\r';
        return;
      case 'a':
        value += '\a';
        return;
      case 'b':
        value += '\b';
        return;
      case 'f':
        value += '\f';
        return;
      case 'v':
        value += '\v';
        return;
      case '\\':
        value += '\\';
        return;
      case '\'':
        value += '\'';
        return;
      case '"':
        value += '"';
        return;
      case '\n':
        ++line_;
        return;  // line continuation
      case 'x':
        append_utf8(value, read_hex(2));
        return;
      case 'u':
        append_utf8(value, read_hex(4));
        return;
      case 'U':
        append_utf8(value, read_hex(8));
        return;
      default:
        break;
    }
    if (e >= '0' && e <= '7') {
      uint32_t cp = static_cast<uint32_t>(e - '0');
      for (int k = 0; k < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++k)
        cp = cp * 8 + static_cast<uint32_t>(src_[pos_++] - '0');
      append_utf8(value, cp);
      return;
    }
    value += '\\';
    value += e;
  }

  uint32_t read_hex(int digits) {
    uint32_t cp = 0;
    for (int k = 0; k < digits; ++k) {
      const int h = pos_ < src_.size() ? hex_value(src_[pos_]) : -1;
      if (h < 0) throw_error(line_, "syntax error: truncated \\x, \\u or \\U escape");
      cp = cp * 16 + static_cast<uint32_t>(h);
      ++pos_;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    return cp;
  }

  void lex_operator(int& depth) {
    static constexpr const char* kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
    for (const char* op : kTwo) {
      if (at(op)) {
        push(Tok::kOp, op);
        pos_ += 2;
        return;
      }
    }
    const char c = src_[pos_];
    if (std::strchr("+-*/%~<>()[]{},.:|=", c) == nullptr || c == '\0')
      throw_error(line_, fmt::format("syntax error: unexpected character '{}'", c));
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) throw_error(line_, fmt::format("syntax error: unexpected '{}'", c));
      --depth;
    }
    push(Tok::kOp, std::string(1, c));
    ++pos_;
  }

  /// {% raw %}...{% endraw %}: the body is text. Replaces the just-lexed raw tag.
  void lex_raw(size_t first_token) {
    out_.resize(first_token - 1);
    for (size_t i = src_.find("{%", pos_); i != std::string::npos; i = src_.find("{%", i + 2)) {
      size_t p = i + 2;
      const bool strip_before = p < src_.size() && src_[p] == '-';
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p += 6;
      while (p < src_.size() && is_space(src_[p])) ++p;
      char ctl = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ctl = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) continue;
      std::string_view body(src_.data() + pos_, i - pos_);
      if (strip_before)
        while (!body.empty() && is_space(body.back())) body.remove_suffix(1);
      if (!body.empty()) push(Tok::kText, std::string(body));
      count_lines(pos_, p);
      pos_ = p + 2;
      finish_tag(ctl, /*is_block=*/true);
      return;
    }
    throw_error(line_, "syntax error: missing {% endraw %}");
  }

  std::string src_;
  LexOptions opts_;
  size_t pos_ = 0;
  int line_ = 1;
  bool lstrip_next_ = false;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(std::string_view source, const LexOptions& opts) {
  return Lexer(normalize_newlines(source), opts).run();
}

}  // namespace sarathi::server::jinja
