// model/tokenizer_merge.cpp: the SPM and BPE merge loops and piece helpers (see
// tokenizer_merge.h). Both merges use a priority queue with llama.cpp's ordering; an entry whose
// symbols changed since it was queued is skipped when popped.
#include "model/tokenizer_merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <queue>

#include "model/unicode.h"

namespace sarathi::model {
namespace {

// A run of text in a doubly linked list of symbols; n == 0 once merged into its left neighbour.
struct Symbol {
  int prev;
  int next;
  size_t start;
  size_t n;
};

std::vector<Symbol> split_symbols(std::string_view text) {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  size_t offset = 0;
  int index = 0;
  while (offset < text.size()) {
    const size_t len =
        std::min(unicode::utf8_seq_len(static_cast<uint8_t>(text[offset])), text.size() - offset);
    const bool last = offset + len == text.size();
    symbols.push_back({index - 1, last ? -1 : index + 1, offset, len});
    offset += len;
    ++index;
  }
  return symbols;
}

// Unlinks `right` after merging it into `left`.
void merge_symbols(std::vector<Symbol>& symbols, int left, int right) {
  Symbol& l = symbols[static_cast<size_t>(left)];
  Symbol& r = symbols[static_cast<size_t>(right)];
  l.n += r.n;
  r.n = 0;
  l.next = r.next;
  if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = left;
}

struct SpmBigram {
  int left;
  int right;
  float score;
  size_t size;
};

// Max-heap order of llm_bigram_spm::comparator: higher score first, then the leftmost.
struct SpmBigramLess {
  bool operator()(const SpmBigram& l, const SpmBigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};

struct BpeBigram {
  int left;
  int right;
  int32_t rank;
  size_t size;
};

// Order of llm_bigram_bpe::comparator: lowest rank first, then the leftmost.
struct BpeBigramGreater {
  bool operator()(const BpeBigram& l, const BpeBigram& r) const {
    return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
  }
};

}  // namespace

void spm_tokenize(std::string_view text, const SpmVocab& vocab, std::vector<TokenId>& out) {
  std::vector<Symbol> symbols = split_symbols(text);
  if (symbols.empty()) return;
  auto sym = [&](int i) -> Symbol& { return symbols[static_cast<size_t>(i)]; };
  std::priority_queue<SpmBigram, std::vector<SpmBigram>, SpmBigramLess> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view pair = text.substr(sym(left).start, sym(left).n + sym(right).n);
    const auto it = vocab.token_to_id.find(pair);
    if (it == vocab.token_to_id.end()) return;
    queue.push({left, right, vocab.scores[static_cast<size_t>(it->second)], pair.size()});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const SpmBigram b = queue.top();
    queue.pop();
    const Symbol& l = sym(b.left);
    const Symbol& r = sym(b.right);
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
    merge_symbols(symbols, b.left, b.right);
    try_add(sym(b.left).prev, b.left);
    try_add(b.left, sym(b.left).next);
  }

  // Every merged symbol is a token; a single character that is not becomes its bytes.
  for (int i = 0; i != -1; i = sym(i).next) {
    const std::string_view piece = text.substr(sym(i).start, sym(i).n);
    const auto it = vocab.token_to_id.find(piece);
    if (it != vocab.token_to_id.end()) {
      out.push_back(it->second);
      continue;
    }
    for (char c : piece) {
      const TokenId id = vocab.byte_token[static_cast<uint8_t>(c)];
      if (id >= 0) out.push_back(id);
    }
  }
}

BpeRanks make_bpe_ranks(const std::vector<std::string>& merges) {
  BpeRanks ranks;
  ranks.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    if (merges[i].find(' ', 1) == std::string::npos) continue;  // no pair: never matches
    ranks.emplace(merges[i], static_cast<int32_t>(i));
  }
  return ranks;
}

void bpe_tokenize_word(std::string_view word, const BpeVocab& vocab, std::vector<TokenId>& out) {
  if (vocab.ignore_merges) {
    const auto it = vocab.token_to_id.find(word);
    if (it != vocab.token_to_id.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<Symbol> symbols = split_symbols(word);
  auto sym = [&](int i) -> Symbol& { return symbols[static_cast<size_t>(i)]; };
  std::priority_queue<BpeBigram, std::vector<BpeBigram>, BpeBigramGreater> queue;
  std::string key;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view l = word.substr(sym(left).start, sym(left).n);
    const std::string_view r = word.substr(sym(right).start, sym(right).n);
    if (l.find(' ', 1) != std::string_view::npos) return;  // no merge splits this way
    key.assign(l).append(1, ' ').append(r);
    const auto it = vocab.ranks.find(key);
    if (it == vocab.ranks.end()) return;
    queue.push({left, right, it->second, l.size() + r.size()});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const BpeBigram b = queue.top();
    queue.pop();
    const Symbol& l = sym(b.left);
    const Symbol& r = sym(b.right);
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
    merge_symbols(symbols, b.left, b.right);
    try_add(sym(b.left).prev, b.left);
    try_add(b.left, sym(b.left).next);
  }

  for (const Symbol& s : symbols) {  // live symbols are in chain order
    if (s.n == 0) continue;
    const std::string_view piece = word.substr(s.start, s.n);
    const auto it = vocab.token_to_id.find(piece);
    if (it != vocab.token_to_id.end()) {
      out.push_back(it->second);
      continue;
    }
    for (char c : piece) {  // llama.cpp: each byte that is itself a token, others dropped
      const auto byte_it = vocab.token_to_id.find(std::string_view(&c, 1));
      if (byte_it != vocab.token_to_id.end()) out.push_back(byte_it->second);
    }
  }
}

std::string unescape_spm(std::string_view text) {
  static constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t hit = text.find(kEscapedSpace, pos);
    if (hit == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, hit - pos)).push_back(' ');
    pos = hit + kEscapedSpace.size();
  }
  return out;
}

std::string decode_byte_level(std::string_view text) {
  std::string out;
  for (uint32_t cpt : unicode::decode_utf8(text)) {
    const int b = unicode::symbol_to_byte(cpt);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
      continue;
    }
    std::string utf8;
    unicode::append_utf8(utf8, cpt);
    out += "[UNK_BYTE_0x";
    for (char c : utf8) out += fmt::format("{:02x}", static_cast<uint8_t>(c));
    out.append(text).push_back(']');
  }
  return out;
}

int parse_byte_token(std::string_view text) {
  if (text.size() < 3) return 0;
  const std::string digits(text.substr(3, 2));
  return static_cast<int>(std::strtol(digits.c_str(), nullptr, 16)) & 0xFF;
}

std::string clean_up_spaces(std::string_view text) {
  if (text.empty()) return {};
  // Pass 1: " ?", " !", " .", " ," lose the space.
  std::string p1(1, text[0]);
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) p1.pop_back();
    p1.push_back(x);
  }
  // Pass 2: " ' " becomes "'". llama.cpp overwrites the skipped space with '\0' in its buffer,
  // so the character after it never sees a space before it; `buf` keeps that quirk.
  std::string buf = p1;
  std::string p2(1, buf[0]);
  for (size_t i = 1; i < buf.size(); ++i) {
    const char x = buf[i];
    if (x == '\'' && i + 1 < buf.size() && buf[i - 1] == ' ' && buf[i + 1] == ' ') {
      p2.pop_back();
      buf[++i] = '\0';
    }
    p2.push_back(x);
  }
  // Pass 3: " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it).
  std::string p3(1, p2[0]);
  for (size_t i = 1; i < p2.size(); ++i) {
    const char x = p2[i];
    if (p2[i - 1] == ' ' && x == '\'' && i + 1 < p2.size()) {
      const char x1 = p2[i + 1];
      if (x1 == 's' || x1 == 'm') {
        p3.pop_back();
      } else if (x1 != 't' && x1 != 'd' && i + 2 < p2.size()) {
        const char x2 = p2[i + 2];
        if ((x1 == 'r' || x1 == 'v') && x2 == 'e') p3.pop_back();
      }
    }
    p3.push_back(x);
  }
  return p3;
}

}  // namespace sarathi::model
