// GBNF parsing and lowering. The parser builds a small tree (sequences of literals, classes,
// references, groups and repetitions); lowering turns groups and repetitions into helper rules,
// splices single-alternative groups into their sequence and keeps a repeated character class as
// one kClassStar element, so that a JSON string's body is one position, not a chain of rules.
#include "grammar/grammar.h"

#include <algorithm>
#include <map>
#include <optional>

#include "core/utf8.h"

namespace sarathi::grammar {

using core::ErrorCode;
using core::make_error;

bool CharClass::contains(uint32_t cp) const {
  if (cp < 128) return (ascii[cp >> 6] >> (cp & 63)) & 1;
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](uint32_t v, const CodeRange& r) { return v < r.lo; });
  return it != ranges.begin() && std::prev(it)->hi >= cp;
}

bool CharClass::intersects(uint32_t lo, uint32_t hi) const {
  // The first range ending at or after lo must start at or before hi.
  auto it = std::lower_bound(ranges.begin(), ranges.end(), lo,
                             [](const CodeRange& r, uint32_t v) { return r.hi < v; });
  return it != ranges.end() && it->lo <= hi;
}

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr int kInfinite = -1;
constexpr size_t kMaxElems = 1 << 20;  // lowered size limit (nested {m,n} can blow up)
constexpr int kMaxRepeat = 10000;      // largest bound in {m,n}

/// Normalizes ranges: sorted, merged, clipped to Unicode; fills the ASCII bitmap.
CharClass make_class(std::vector<CodeRange> r, bool negated) {
  std::sort(r.begin(), r.end(), [](const CodeRange& a, const CodeRange& b) { return a.lo < b.lo; });
  std::vector<CodeRange> merged;
  for (CodeRange x : r) {
    if (x.lo > x.hi || x.lo > kMaxCodePoint) continue;
    x.hi = std::min(x.hi, kMaxCodePoint);
    if (!merged.empty() && x.lo <= merged.back().hi + 1)
      merged.back().hi = std::max(merged.back().hi, x.hi);
    else
      merged.push_back(x);
  }
  if (negated) {
    std::vector<CodeRange> comp;
    uint32_t next = 0;
    for (const CodeRange& x : merged) {
      if (x.lo > next) comp.push_back({next, x.lo - 1});
      next = x.hi + 1;
    }
    if (next <= kMaxCodePoint) comp.push_back({next, kMaxCodePoint});
    merged = std::move(comp);
  }
  CharClass c;
  c.ranges = std::move(merged);
  for (const CodeRange& x : c.ranges)
    for (uint32_t cp = x.lo; cp <= std::min<uint32_t>(x.hi, 127); ++cp)
      c.ascii[cp >> 6] |= uint64_t{1} << (cp & 63);
  return c;
}

// ---- the parse tree ----------------------------------------------------------------------

struct Node;
using Seq = std::vector<Node>;

struct Node {
  enum class Kind { kLiteral, kClass, kRef, kGroup, kRepeat } kind = Kind::kLiteral;
  std::string text;       // kLiteral: UTF-8 bytes; kRef: the rule name
  CharClass cls;          // kClass
  size_t offset = 0;      // where it starts in the source (for errors)
  std::vector<Seq> alts;  // kGroup: alternatives; kRepeat: alts[0][0] is the repeated node
  int min = 0, max = 0;   // kRepeat (max kInfinite: unbounded)
};

struct RuleDef {
  std::string name;
  size_t offset = 0;
  std::vector<Seq> alts;
};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

class Parser {
 public:
  explicit Parser(std::string_view src) : s_(src) {}

  core::Result<std::vector<RuleDef>> parse() {
    std::vector<RuleDef> rules;
    skip_space(true);
    while (ok() && p_ < s_.size()) {
      RuleDef r;
      r.offset = p_;
      r.name = name();
      if (r.name.empty()) {
        fail("expected a rule name");
        break;
      }
      skip_space(false);
      if (s_.substr(p_, 3) != "::=") {
        fail("expected '::=' after rule name '" + r.name + "'");
        break;
      }
      p_ += 3;
      skip_space(true);
      r.alts = alternates(false);
      if (!ok()) break;
      if (p_ < s_.size() && s_[p_] != '\n' && s_[p_] != '\r') {
        fail(std::string("unexpected '") + s_[p_] + "'");
        break;
      }
      skip_space(true);
      rules.push_back(std::move(r));
    }
    if (!ok()) return *error_;
    return rules;
  }

  /// "line L, column C" of a source offset.
  std::string where(size_t offset) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < offset && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return fmt::format("line {}, column {}", line, col);
  }

 private:
  bool ok() const { return !error_.has_value(); }
  void fail(const std::string& what) { fail_at(p_, what); }
  void fail_at(size_t offset, const std::string& what) {
    if (!error_) error_ = make_error(ErrorCode::kInvalidArgument, "{}: {}", where(offset), what);
  }

  void skip_space(bool newlines) {
    while (p_ < s_.size()) {
      const char c = s_[p_];
      if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++p_;
      } else if (c == '#') {
        while (p_ < s_.size() && s_[p_] != '\n' && s_[p_] != '\r') ++p_;
      } else {
        break;
      }
    }
  }

  std::string name() {
    const size_t start = p_;
    while (p_ < s_.size() && is_name_char(s_[p_])) ++p_;
    return std::string(s_.substr(start, p_ - start));
  }

  std::optional<uint32_t> hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i, ++p_) {
      if (p_ >= s_.size()) return std::nullopt;
      const char c = s_[p_];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  }

  /// One (possibly escaped) character of a literal or class, as a code point.
  std::optional<uint32_t> character() {
    const size_t start = p_;
    if (s_[p_] == '\\') {
      if (++p_ >= s_.size()) {
        fail_at(start, "unfinished escape");
        return std::nullopt;
      }
      const char e = s_[p_++];
      std::optional<uint32_t> v;
      switch (e) {
        case 'x':
          v = hex(2);
          break;
        case 'u':
          v = hex(4);
          break;
        case 'U':
          v = hex(8);
          break;
        case 'n':
          return '\n';
        case 'r':
          return '\r';
        case 't':
          return '\t';
        case '\\':
        case '"':
        case '[':
        case ']':
        case '-':
        case '^':
          return static_cast<uint8_t>(e);
        default:
          fail_at(start, fmt::format("unknown escape '\\{}'", e));
          return std::nullopt;
      }
      if (!v || *v > kMaxCodePoint) fail_at(start, "malformed \\x, \\u or \\U escape");
      return v;
    }
    const auto cp = core::utf8::decode(s_.substr(p_));
    if (!cp) {
      fail("invalid UTF-8 in the grammar text");
      return std::nullopt;
    }
    p_ += cp->second;
    return cp->first;
  }

  std::vector<Seq> alternates(bool nested) {
    std::vector<Seq> alts;
    alts.push_back(sequence(nested));
    while (ok() && p_ < s_.size() && s_[p_] == '|') {
      ++p_;
      skip_space(true);
      alts.push_back(sequence(nested));
    }
    return alts;
  }

  Seq sequence(bool nested) {
    Seq seq;
    while (ok() && p_ < s_.size()) {
      const char c = s_[p_];
      const size_t start = p_;
      if (c == '"') {
        ++p_;
        Node n{.kind = Node::Kind::kLiteral, .offset = start};
        while (ok() && p_ < s_.size() && s_[p_] != '"') {
          if (s_[p_] == '\n' || s_[p_] == '\r') break;
          if (auto cp = character()) core::utf8::append(*cp, n.text);
        }
        if (!ok()) break;
        if (p_ >= s_.size() || s_[p_] != '"') {
          fail_at(start, "unterminated string literal");
          break;
        }
        ++p_;
        seq.push_back(std::move(n));
      } else if (c == '[') {
        ++p_;
        const bool negated = p_ < s_.size() && s_[p_] == '^';
        if (negated) ++p_;
        std::vector<CodeRange> ranges;
        while (ok() && p_ < s_.size() && s_[p_] != ']' && s_[p_] != '\n') {
          auto lo = character();
          if (!lo) break;
          uint32_t hi = *lo;
          if (p_ + 1 < s_.size() && s_[p_] == '-' && s_[p_ + 1] != ']' && s_[p_ + 1] != '\n') {
            ++p_;
            auto h = character();
            if (!h) break;
            if (*h < *lo) {
              fail_at(start, "character range out of order");
              break;
            }
            hi = *h;
          }
          ranges.push_back({*lo, hi});
        }
        if (!ok()) break;
        if (p_ >= s_.size() || s_[p_] != ']') {
          fail_at(start, "unterminated character class");
          break;
        }
        ++p_;
        seq.push_back(Node{.kind = Node::Kind::kClass,
                           .cls = make_class(std::move(ranges), negated),
                           .offset = start});
      } else if (c == '.') {
        ++p_;
        seq.push_back(Node{.kind = Node::Kind::kClass,
                           .cls = make_class({{0, kMaxCodePoint}}, false),
                           .offset = start});
      } else if (c == '(') {
        ++p_;
        skip_space(true);
        Node n{.kind = Node::Kind::kGroup, .offset = start};
        n.alts = alternates(true);
        if (!ok()) break;
        if (p_ >= s_.size() || s_[p_] != ')') {
          fail_at(start, "unclosed '('");
          break;
        }
        ++p_;
        seq.push_back(std::move(n));
      } else if (is_name_char(c)) {
        Node n{.kind = Node::Kind::kRef, .text = name(), .offset = start};
        seq.push_back(std::move(n));
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (seq.empty()) {
          fail(fmt::format("'{}' has nothing to repeat", c));
          break;
        }
        int lo = 0, hi = kInfinite;
        ++p_;
        if (c == '+') lo = 1;
        if (c == '?') hi = 1;
        if (c == '{' && !bounds(start, lo, hi)) break;
        Node n{.kind = Node::Kind::kRepeat, .offset = start, .min = lo, .max = hi};
        n.alts.push_back(Seq{std::move(seq.back())});
        seq.back() = std::move(n);
      } else if (c == '<') {
        fail("token references (<...>) are not supported");
        break;
      } else {
        break;  // '|', ')', a newline, the end: the caller decides
      }
      skip_space(nested);
    }
    return seq;
  }

  std::optional<int> number() {
    size_t start = p_;
    int v = 0;
    while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') {
      v = std::min(v * 10 + (s_[p_] - '0'), kMaxRepeat + 1);
      ++p_;
    }
    if (p_ == start) return std::nullopt;
    return v;
  }

  bool bounds(size_t start, int& lo, int& hi) {
    skip_space(true);
    auto m = number();
    skip_space(true);
    lo = m.value_or(0);
    if (p_ < s_.size() && s_[p_] == '}') {
      if (!m) return fail_at(start, "empty repetition bounds"), false;
      hi = lo;
    } else if (p_ < s_.size() && s_[p_] == ',') {
      ++p_;
      skip_space(true);
      auto n = number();
      skip_space(true);
      hi = n.value_or(kInfinite);
    }
    if (p_ >= s_.size() || s_[p_] != '}')
      return fail_at(start, "malformed repetition bounds"), false;
    ++p_;
    if (lo > kMaxRepeat || hi > kMaxRepeat)
      return fail_at(start, fmt::format("repetition bounds above {}", kMaxRepeat)), false;
    if (hi != kInfinite && hi < lo)
      return fail_at(start, "repetition maximum below its minimum"), false;
    return true;
  }

  std::string_view s_;
  size_t p_ = 0;
  std::optional<core::Error> error_;
};

// ---- lowering ----------------------------------------------------------------------------

class Lowering {
 public:
  Lowering(const Parser& parser, const std::vector<RuleDef>& defs) : parser_(parser), defs_(defs) {}

  core::Result<std::shared_ptr<const Grammar>> run(std::string_view root) {
    for (const RuleDef& d : defs_) {
      if (ids_.count(d.name))
        return make_error(ErrorCode::kInvalidArgument, "{}: rule '{}' is defined twice",
                          parser_.where(d.offset), d.name);
      ids_[d.name] = new_rule(d.name);
    }
    auto root_it = ids_.find(std::string(root));
    if (root_it == ids_.end())
      return make_error(ErrorCode::kInvalidArgument, "the grammar has no '{}' rule", root);
    for (const RuleDef& d : defs_) {
      const int32_t id = ids_.at(d.name);
      for (const Seq& seq : d.alts) {
        auto alt = lower_seq(seq, d.name);
        if (!alt.ok()) return alt.error();
        rules_[static_cast<size_t>(id)].push_back(std::move(*alt));
      }
    }
    if (size_ > kMaxElems)
      return make_error(ErrorCode::kOutOfRange,
                        "the grammar is too large ({} elements, at most {})", size_, kMaxElems);
    auto g = std::make_shared<Grammar>();
    g->root = root_it->second;
    g->names = std::move(names_);
    g->classes = std::move(classes_);
    g->alts.resize(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r)
      for (auto& alt : rules_[r]) {
        g->alts[r].push_back(static_cast<int32_t>(g->elems.size()));
        g->elems.insert(g->elems.end(), alt.begin(), alt.end());
        g->elems.push_back(Elem{ElemKind::kEnd, 0});
      }
    SARATHI_RETURN_IF_ERROR(check(*g));
    return std::shared_ptr<const Grammar>(std::move(g));
  }

 private:
  using Elems = std::vector<Elem>;

  int32_t new_rule(std::string name) {
    names_.push_back(std::move(name));
    rules_.emplace_back();
    return static_cast<int32_t>(names_.size() - 1);
  }
  int32_t helper(const std::string& origin, std::vector<Elems> alts) {
    const int32_t id = new_rule(fmt::format("{}-{}", origin, ++num_helpers_));
    for (const Elems& a : alts) size_ += a.size() + 1;
    rules_[static_cast<size_t>(id)] = std::move(alts);
    return id;
  }
  int32_t add_class(CharClass c) {
    classes_.push_back(std::move(c));
    return static_cast<int32_t>(classes_.size() - 1);
  }

  core::Result<Elems> lower_seq(const Seq& seq, const std::string& rule) {
    Elems out;
    for (const Node& n : seq) {
      SARATHI_RETURN_IF_ERROR(lower_node(n, rule, out));
      if (size_ + out.size() > kMaxElems)
        return make_error(ErrorCode::kOutOfRange, "the grammar is too large (over {} elements)",
                          kMaxElems);
    }
    return out;
  }

  core::Status lower_node(const Node& n, const std::string& rule, Elems& out) {
    switch (n.kind) {
      case Node::Kind::kLiteral:
        for (char c : n.text) out.push_back({ElemKind::kByte, static_cast<uint8_t>(c)});
        return core::Ok{};
      case Node::Kind::kClass:
        out.push_back({ElemKind::kClass, add_class(n.cls)});
        return core::Ok{};
      case Node::Kind::kRef: {
        auto it = ids_.find(n.text);
        if (it == ids_.end())
          return make_error(ErrorCode::kInvalidArgument, "{}: undefined rule '{}'",
                            parser_.where(n.offset), n.text);
        out.push_back({ElemKind::kRuleRef, it->second});
        return core::Ok{};
      }
      case Node::Kind::kGroup: {
        if (n.alts.size() == 1) {  // splice a plain group into the sequence
          SARATHI_ASSIGN_OR_RETURN(Elems e, lower_seq(n.alts[0], rule));
          out.insert(out.end(), e.begin(), e.end());
          return core::Ok{};
        }
        std::vector<Elems> alts;
        for (const Seq& s : n.alts) {
          SARATHI_ASSIGN_OR_RETURN(Elems e, lower_seq(s, rule));
          alts.push_back(std::move(e));
        }
        out.push_back({ElemKind::kRuleRef, helper(rule, std::move(alts))});
        return core::Ok{};
      }
      case Node::Kind::kRepeat:
        return lower_repeat(n, rule, out);
    }
    return core::Ok{};
  }

  core::Status lower_repeat(const Node& n, const std::string& rule, Elems& out) {
    const Node& inner = n.alts[0][0];
    Elems atom;
    SARATHI_RETURN_IF_ERROR(lower_node(inner, rule, atom));
    if (atom.size() == 1 && atom[0].kind == ElemKind::kClass && n.max == kInfinite) {
      for (int i = 0; i < n.min; ++i) out.push_back(atom[0]);
      out.push_back({ElemKind::kClassStar, atom[0].value});
      return core::Ok{};
    }
    if (atom.size() != 1) atom = {Elem{ElemKind::kRuleRef, helper(rule, {atom})}};
    // x* over a nullable x would be left-recursive; check() says so with the position.
    if (atom[0].kind == ElemKind::kRuleRef && n.max == kInfinite)
      repeated_.push_back({atom[0].value, n.offset});
    for (int i = 0; i < n.min; ++i) out.push_back(atom[0]);
    if (n.max == kInfinite) {
      const int32_t star = new_rule(fmt::format("{}-{}", rule, ++num_helpers_));
      rules_[static_cast<size_t>(star)] = {{atom[0], Elem{ElemKind::kRuleRef, star}}, {}};
      size_ += 4;
      out.push_back({ElemKind::kRuleRef, star});
    } else if (n.max > n.min) {
      // x{0,k}: opt_k ::= x opt_{k-1} | "" (nested, so each length has one derivation)
      int32_t prev = helper(rule, {{atom[0]}, {}});
      for (int i = 1; i < n.max - n.min; ++i) {
        prev = helper(rule, {{atom[0], Elem{ElemKind::kRuleRef, prev}}, {}});
        if (size_ > kMaxElems)
          return make_error(ErrorCode::kOutOfRange, "the grammar is too large (over {} elements)",
                            kMaxElems);
      }
      out.push_back({ElemKind::kRuleRef, prev});
    }
    return core::Ok{};
  }

  // Nullable, productive and left-recursion checks over the lowered grammar.
  core::Status check(const Grammar& g) {
    const size_t n = g.alts.size();
    std::vector<char> nullable(n, 0), productive(n, 0);
    auto elem_nullable = [&](const Elem& e) {
      return e.kind == ElemKind::kClassStar ||
             (e.kind == ElemKind::kRuleRef && nullable[static_cast<size_t>(e.value)]);
    };
    auto elem_productive = [&](const Elem& e) {
      switch (e.kind) {
        case ElemKind::kClass:
          return !g.classes[static_cast<size_t>(e.value)].ranges.empty();
        case ElemKind::kRuleRef:
          return productive[static_cast<size_t>(e.value)] != 0;
        default:
          return true;
      }
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r)
        for (int32_t start : g.alts[r]) {
          bool all_null = true, all_prod = true;
          for (size_t p = static_cast<size_t>(start); g.elems[p].kind != ElemKind::kEnd; ++p) {
            all_null = all_null && elem_nullable(g.elems[p]);
            all_prod = all_prod && elem_productive(g.elems[p]);
          }
          if (all_null && !nullable[r]) nullable[r] = 1, changed = true;
          if (all_prod && !productive[r]) productive[r] = 1, changed = true;
        }
    }
    for (const auto& [rule, offset] : repeated_)
      if (nullable[static_cast<size_t>(rule)])
        return make_error(ErrorCode::kInvalidArgument,
                          "{}: repetition of something that can match the empty string",
                          parser_.where(offset));
    for (size_t r = 0; r < n; ++r)
      if (!productive[r])
        return make_error(ErrorCode::kInvalidArgument,
                          "rule '{}' can never finish (each of its alternatives needs itself or "
                          "matches nothing)",
                          g.names[r]);
    // Left recursion: a rule reachable from itself through references preceded only by
    // nullable elements.
    std::vector<std::vector<int32_t>> left(n);
    for (size_t r = 0; r < n; ++r)
      for (int32_t start : g.alts[r])
        for (size_t p = static_cast<size_t>(start); g.elems[p].kind != ElemKind::kEnd; ++p) {
          if (g.elems[p].kind == ElemKind::kRuleRef) left[r].push_back(g.elems[p].value);
          if (!elem_nullable(g.elems[p])) break;
        }
    std::vector<char> color(n, 0);  // 0 new, 1 on the path, 2 done
    std::vector<std::pair<int32_t, size_t>> stack;
    for (size_t r0 = 0; r0 < n; ++r0) {
      if (color[r0]) continue;
      stack.push_back({static_cast<int32_t>(r0), 0});
      color[r0] = 1;
      while (!stack.empty()) {
        auto& [r, i] = stack.back();
        const auto& next = left[static_cast<size_t>(r)];
        if (i == next.size()) {
          color[static_cast<size_t>(r)] = 2;
          stack.pop_back();
          continue;
        }
        const int32_t s = next[i++];
        if (color[static_cast<size_t>(s)] == 1) {
          std::string path;
          bool on = false;
          for (const auto& [q, qi] : stack) {
            on = on || q == s;
            if (on) path += g.names[static_cast<size_t>(q)] + " -> ";
          }
          return make_error(ErrorCode::kInvalidArgument,
                            "left recursion: {}{} can be reached again without reading anything",
                            path, g.names[static_cast<size_t>(s)]);
        }
        if (color[static_cast<size_t>(s)] == 0) {
          color[static_cast<size_t>(s)] = 1;
          stack.push_back({s, 0});
        }
      }
    }
    return core::Ok{};
  }

  const Parser& parser_;
  const std::vector<RuleDef>& defs_;
  std::map<std::string, int32_t> ids_;
  std::vector<std::string> names_;
  std::vector<std::vector<Elems>> rules_;
  std::vector<CharClass> classes_;
  std::vector<std::pair<int32_t, size_t>> repeated_;  // (atom rule, source offset) of x* / x{m,n}
  size_t size_ = 0;
  int num_helpers_ = 0;
};

void append_class_char(uint32_t cp, std::string& out) {
  if (cp == '\\' || cp == ']' || cp == '[' || cp == '-' || cp == '^' || cp == '"') {
    out += '\\';
    out += static_cast<char>(cp);
  } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
    out += fmt::format("\\x{:02X}", cp);
  } else if (cp >= 0xD800 && cp <= 0xDFFF) {
    out += fmt::format("\\u{:04X}", cp);
  } else {
    core::utf8::append(cp, out);
  }
}

}  // namespace

core::Result<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text,
                                                        std::string_view root) {
  Parser parser(text);
  SARATHI_ASSIGN_OR_RETURN(std::vector<RuleDef> defs, parser.parse());
  if (defs.empty()) return make_error(ErrorCode::kInvalidArgument, "the grammar is empty");
  return Lowering(parser, defs).run(root);
}

std::string gbnf_literal(std::string_view bytes) {
  std::string out = "\"";
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02X}", c);
    } else {
      out += static_cast<char>(c);  // UTF-8 passes through (a GBNF literal is UTF-8 text)
    }
  }
  return out + "\"";
}

std::string Grammar::to_gbnf() const {
  std::string out;
  auto cls = [&](int32_t id) {
    std::string s = "[";
    for (const CodeRange& r : classes[static_cast<size_t>(id)].ranges) {
      append_class_char(r.lo, s);
      if (r.hi != r.lo) {
        s += '-';
        append_class_char(r.hi, s);
      }
    }
    return s + "]";
  };
  for (size_t r = 0; r < alts.size(); ++r) {
    out += names[r] + " ::=";
    for (size_t a = 0; a < alts[r].size(); ++a) {
      if (a > 0) out += " |";
      std::string lit;
      auto flush = [&] {
        if (!lit.empty()) out += " " + gbnf_literal(lit);
        lit.clear();
      };
      size_t p = static_cast<size_t>(alts[r][a]);
      if (elems[p].kind == ElemKind::kEnd) out += " \"\"";
      for (; elems[p].kind != ElemKind::kEnd; ++p) {
        const Elem& e = elems[p];
        if (e.kind == ElemKind::kByte) {
          lit += static_cast<char>(e.value);
          continue;
        }
        flush();
        if (e.kind == ElemKind::kClass) out += " " + cls(e.value);
        if (e.kind == ElemKind::kClassStar) out += " " + cls(e.value) + "*";
        if (e.kind == ElemKind::kRuleRef) out += " " + names[static_cast<size_t>(e.value)];
      }
      flush();
    }
    out += "\n";
  }
  return out;
}

}  // namespace sarathi::grammar
