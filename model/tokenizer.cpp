// model/tokenizer.cpp: reading tokenizer.ggml.* and the Tokenizer built from it. Mirrors
// llama.cpp's src/llama-vocab.cpp at c392e50: llama_vocab::impl::load (defaults, attribute
// overrides, EOG set), tokenizer_st_partition, tokenize, token_to_piece and detokenize. The SPM
// and BPE merge loops live in tokenizer_merge.cpp.
#include "model/tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <limits>
#include <optional>
#include <utility>

#include "model/tokenizer_merge.h"
#include "model/unicode.h"

namespace sarathi::model {

using core::ErrorCode;
using core::make_error;
using core::Result;

namespace {

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space
constexpr int64_t kUnsetId = 4294967295;                    // u32 -1 in the GGUF keys

// How a BPE vocabulary's tokenizer.ggml.pre name configures llama.cpp.
struct PreInfo {
  unicode::PreTokenizer kind = unicode::PreTokenizer::kDefault;
  bool ignore_merges = false;  // a pre-token that is a whole token is not merged
  bool add_bos = false;        // default for add_bos_token
  bool clean_spaces = true;    // detokenize: clean_up_tokenization_spaces
};

std::optional<PreInfo> find_pre(std::string_view name) {
  using unicode::PreTokenizer;
  auto any_of = [&](std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  if (name.empty() || name == "default") return PreInfo{};
  if (any_of({"llama3", "llama-v3", "llama-bpe", "falcon3"}))
    return PreInfo{.kind = PreTokenizer::kLlama3, .ignore_merges = true, .add_bos = true};
  if (any_of({"dbrx", "smaug-bpe"})) return PreInfo{.kind = PreTokenizer::kLlama3};
  if (any_of({"gpt-2", "phi-2", "mpt", "olmo"})) return PreInfo{.kind = PreTokenizer::kGpt2};
  if (any_of({"qwen2", "deepseek-r1-qwen"}))
    return PreInfo{.kind = PreTokenizer::kQwen2, .clean_spaces = false};
  if (name == "stablelm2") return PreInfo{.kind = PreTokenizer::kQwen2};
  return std::nullopt;
}

core::Error unsupported_pre(std::string_view name) {
  return make_error(ErrorCode::kUnsupported,
                    "tokenizer.ggml.pre '{}' is not supported (default, gpt-2, phi-2, mpt, olmo, "
                    "llama3, llama-bpe, falcon3, dbrx, smaug-bpe, qwen2, deepseek-r1-qwen, "
                    "stablelm2)",
                    name);
}

// Reads an optional special-token id key. Absent or unset (4294967295, u32 -1) keeps the
// tokenizer's default as llama.cpp does: -1 for most keys, but SPM's <s> = 1 stays BOS.
Result<TokenId> read_token_id(const GgufFile& file, std::string_view key, TokenId def,
                              size_t n_tokens) {
  if (file.find(key) == nullptr) return def;
  SARATHI_ASSIGN_OR_RETURN(const int64_t id, file.get_int(key));
  if (id == kUnsetId || id == -1) return def;
  if (id < 0 || static_cast<uint64_t>(id) >= n_tokens)
    return make_error(ErrorCode::kInvalidFormat, "{}: {} = {} is out of range for {} tokens",
                      file.name(), key, id, n_tokens);
  return static_cast<TokenId>(id);
}

Result<bool> read_flag(const GgufFile& file, std::string_view key, bool def) {
  if (file.find(key) == nullptr) return def;
  return file.get_bool(key);
}

TokenType to_token_type(int64_t v) {
  if (v < 0 || v > static_cast<int64_t>(TokenType::kByte)) return TokenType::kUndefined;
  return static_cast<TokenType>(v);
}

// Reads tokens, scores and token types (the per-token arrays).
Result<VocabData> read_token_arrays(const GgufFile& file) {
  VocabData v;
  SARATHI_ASSIGN_OR_RETURN(v.tokens, file.get_string_array("tokenizer.ggml.tokens"));
  const size_t n = v.tokens.size();
  if (n == 0 || n > static_cast<size_t>(std::numeric_limits<TokenId>::max()))
    return make_error(ErrorCode::kInvalidFormat, "{}: tokenizer.ggml.tokens has {} entries",
                      file.name(), n);
  if (file.find("tokenizer.ggml.scores") != nullptr) {
    SARATHI_ASSIGN_OR_RETURN(v.scores, file.get_float_array("tokenizer.ggml.scores"));
    if (v.scores.size() < n)
      return make_error(ErrorCode::kInvalidFormat,
                        "{}: tokenizer.ggml.scores has {} entries for {} tokens", file.name(),
                        v.scores.size(), n);
    v.scores.resize(n);
  }
  if (file.find("tokenizer.ggml.token_type") != nullptr) {
    SARATHI_ASSIGN_OR_RETURN(const std::vector<int64_t> types,
                             file.get_int_array("tokenizer.ggml.token_type"));
    if (types.size() < n)
      return make_error(ErrorCode::kInvalidFormat,
                        "{}: tokenizer.ggml.token_type has {} entries for {} tokens", file.name(),
                        types.size(), n);
    v.types.reserve(n);
    for (size_t i = 0; i < n; ++i) v.types.push_back(to_token_type(types[i]));
  }
  return v;
}

}  // namespace

Result<VocabData> read_vocab(const GgufFile& file) {
  SARATHI_ASSIGN_OR_RETURN(const std::string model, file.get_string("tokenizer.ggml.model"));
  if (model != "llama" && model != "gpt2")
    return make_error(ErrorCode::kUnsupported,
                      "{}: tokenizer.ggml.model '{}' is not supported (llama, gpt2)", file.name(),
                      model);
  SARATHI_ASSIGN_OR_RETURN(VocabData v, read_token_arrays(file));
  const size_t n = v.tokens.size();
  v.kind = model == "llama" ? VocabKind::kSpm : VocabKind::kBpe;
  v.pre = "default";
  if (file.find("tokenizer.ggml.pre") != nullptr) {
    SARATHI_ASSIGN_OR_RETURN(v.pre, file.get_string("tokenizer.ggml.pre"));
    if (v.pre.empty()) v.pre = "default";
  }

  // llama.cpp's defaults: SPM bos 1, eos 2, unk 0, add BOS, dummy prefix; BPE bos = eos = 11.
  TokenId def_bos = 1, def_eos = 2, def_unk = 0;
  bool def_add_bos = true, def_space_prefix = true;
  if (v.kind == VocabKind::kBpe) {
    const std::optional<PreInfo> pre = find_pre(v.pre);
    if (!pre) return unsupported_pre(v.pre);
    SARATHI_ASSIGN_OR_RETURN(v.merges, file.get_string_array("tokenizer.ggml.merges"));
    def_bos = def_eos = 11;
    def_unk = -1;
    def_add_bos = pre->add_bos;
    def_space_prefix = false;
  }
  auto in_range = [&](TokenId id) { return static_cast<size_t>(id) < n ? id : TokenId{-1}; };
  SARATHI_ASSIGN_OR_RETURN(
      v.bos_id, read_token_id(file, "tokenizer.ggml.bos_token_id", in_range(def_bos), n));
  SARATHI_ASSIGN_OR_RETURN(
      v.eos_id, read_token_id(file, "tokenizer.ggml.eos_token_id", in_range(def_eos), n));
  SARATHI_ASSIGN_OR_RETURN(
      v.unk_id, read_token_id(file, "tokenizer.ggml.unknown_token_id", in_range(def_unk), n));
  SARATHI_ASSIGN_OR_RETURN(v.pad_id, read_token_id(file, "tokenizer.ggml.padding_token_id", -1, n));
  SARATHI_ASSIGN_OR_RETURN(v.eot_id, read_token_id(file, "tokenizer.ggml.eot_token_id", -1, n));
  SARATHI_ASSIGN_OR_RETURN(v.add_bos, read_flag(file, "tokenizer.ggml.add_bos_token", def_add_bos));
  SARATHI_ASSIGN_OR_RETURN(v.add_eos, read_flag(file, "tokenizer.ggml.add_eos_token", false));
  SARATHI_ASSIGN_OR_RETURN(v.add_space_prefix,
                           read_flag(file, "tokenizer.ggml.add_space_prefix", def_space_prefix));
  if (v.add_bos && v.bos_id < 0)
    return make_error(ErrorCode::kInvalidFormat,
                      "{}: tokenizer.ggml.add_bos_token is true (given or by default), but "
                      "tokenizer.ggml.bos_token_id is not set",
                      file.name());
  if (v.add_eos && v.eos_id < 0)
    return make_error(ErrorCode::kInvalidFormat,
                      "{}: tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id "
                      "is not set",
                      file.name());
  return v;
}

VocabData byte_level_vocab(int32_t n_vocab) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  VocabData v;
  v.kind = VocabKind::kSpm;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(std::string{'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'});
    v.types.push_back(TokenType::kByte);
  }
  for (int32_t i = 259; i < n_vocab; ++i) {
    v.tokens.push_back(fmt::format("<unused_{}>", i - 259));
    v.types.push_back(TokenType::kUnused);
  }
  // Fewer than 259 tokens is a misuse; keep what fits so that create() still succeeds.
  const size_t n = static_cast<size_t>(std::max<int32_t>(n_vocab, 1));
  if (v.tokens.size() > n) {
    v.tokens.resize(n);
    v.types.resize(n);
  }
  v.scores.assign(v.tokens.size(), 0.0f);
  v.unk_id = 0;
  v.bos_id = n > 1 ? 1 : -1;
  v.eos_id = n > 2 ? 2 : -1;
  v.add_bos = v.bos_id >= 0;
  v.add_space_prefix = true;
  v.escape_whitespace = false;
  return v;
}

// ---------------------------------------------------------------------------------------------

struct Tokenizer::Impl {
  VocabData v;                                // types filled in and with llama.cpp's overrides
  TokenMap token_to_id;                       // text -> id
  BpeRanks bpe_ranks;                         // "left right" -> merge rank
  std::optional<PreInfo> pre;                 // BPE only
  std::vector<TokenId> special_tokens;        // control/user-defined/unknown, longest text first
  std::vector<std::string> pieces;            // token_to_piece(id, special=true)
  std::vector<char> is_eog;                   // per id
  std::array<TokenId, 256> spm_byte_token{};  // SPM byte fallback, -1 if none

  Result<core::Ok> init();
  void detect_special_by_text();
  std::string make_piece(TokenId id) const;
  // Splits the text at special tokens (llama.cpp tokenizer_st_partition): returns fragments,
  // each a token id or (id -1) a range of raw text.
  struct Fragment {
    TokenId id;
    size_t offset, length;
  };
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
  void encode_spm(std::string_view text, std::vector<TokenId>& out) const;
  void encode_bpe(std::string_view text, std::vector<TokenId>& out) const;
};

namespace {

Result<core::Ok> validate_ids(const VocabData& v) {
  const auto n = static_cast<TokenId>(v.tokens.size());
  const std::pair<const char*, TokenId> ids[] = {{"bos_id", v.bos_id},
                                                 {"eos_id", v.eos_id},
                                                 {"unk_id", v.unk_id},
                                                 {"pad_id", v.pad_id},
                                                 {"eot_id", v.eot_id}};
  for (const auto& [name, id] : ids)
    if (id < -1 || id >= n)
      return make_error(ErrorCode::kInvalidArgument, "vocabulary {} = {} is out of range [0, {})",
                        name, id, n);
  if (v.add_bos && v.bos_id < 0)
    return make_error(ErrorCode::kInvalidArgument, "vocabulary add_bos is set but bos_id is not");
  if (v.add_eos && v.eos_id < 0)
    return make_error(ErrorCode::kInvalidArgument, "vocabulary add_eos is set but eos_id is not");
  return core::Ok{};
}

// The token texts llama.cpp (c392e50) recognises when no id key names them. Each found token
// is forced to be a control token.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<EOT>",
    "<｜end▁of▁sentence｜>",  // DeepSeek
};
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
};
// FIM tokens: prefix, suffix, middle (control only) and pad, repo, file-sep (also EOG).
constexpr std::string_view kFimTexts[][4] = {
    {"<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>"},
    {"<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>"},
    {"<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>"},
    {"<|fim_pad|>", "<fim-pad>", "<PAD>", ""},
    {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"},
    {"<|file_sep|>", "", "", ""},
};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};

// The lowest id among tokens spelled like one of `texts`, or -1.
TokenId find_first(const TokenMap& map, std::span<const std::string_view> texts) {
  TokenId best = -1;
  for (std::string_view t : texts) {
    if (t.empty()) continue;
    auto it = map.find(t);
    if (it != map.end() && (best < 0 || it->second < best)) best = it->second;
  }
  return best;
}

}  // namespace

void Tokenizer::Impl::detect_special_by_text() {
  auto force_control = [&](TokenId id) {
    if (id >= 0) v.types[static_cast<size_t>(id)] = TokenType::kControl;
  };
  if (v.eot_id < 0) {
    v.eot_id = find_first(token_to_id, kEotTexts);
    force_control(v.eot_id);
  }
  const TokenId eom = find_first(token_to_id, kEomTexts);
  force_control(eom);
  std::vector<TokenId> eog;
  for (size_t k = 0; k < std::size(kFimTexts); ++k) {
    const TokenId id = find_first(token_to_id, kFimTexts[k]);
    force_control(id);
    if (k >= 3 && id >= 0) eog.push_back(id);  // fim pad, repo and file-sep end generation
  }
  for (std::string_view t : kEogTexts) {
    auto it = token_to_id.find(t);
    if (it == token_to_id.end()) continue;
    eog.push_back(it->second);
    force_control(it->second);
  }
  for (TokenId id : {v.eos_id, v.eot_id, eom}) eog.push_back(id);
  is_eog.assign(v.tokens.size(), 0);
  for (TokenId id : eog)
    if (id >= 0) is_eog[static_cast<size_t>(id)] = 1;
}

Result<core::Ok> Tokenizer::Impl::init() {
  const size_t n = v.tokens.size();
  if (n == 0 || n > static_cast<size_t>(std::numeric_limits<TokenId>::max()))
    return make_error(ErrorCode::kInvalidArgument, "vocabulary has {} tokens", n);
  if (!v.scores.empty() && v.scores.size() != n)
    return make_error(ErrorCode::kInvalidArgument, "vocabulary has {} scores for {} tokens",
                      v.scores.size(), n);
  if (!v.types.empty() && v.types.size() != n)
    return make_error(ErrorCode::kInvalidArgument, "vocabulary has {} token types for {} tokens",
                      v.types.size(), n);
  SARATHI_RETURN_IF_ERROR(validate_ids(v));
  if (v.scores.empty()) v.scores.assign(n, 0.0f);
  if (v.types.empty()) v.types.assign(n, TokenType::kNormal);
  if (v.kind == VocabKind::kBpe) {
    pre = find_pre(v.pre);
    if (!pre) return unsupported_pre(v.pre);
    bpe_ranks = make_bpe_ranks(v.merges);
  }

  token_to_id.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (v.tokens[i].empty()) v.tokens[i] = fmt::format("[EMPTY_{}]", i);  // as llama.cpp
    auto [it, inserted] = token_to_id.emplace(v.tokens[i], static_cast<TokenId>(i));
    if (!inserted)
      return make_error(ErrorCode::kInvalidFormat,
                        "duplicate token in vocabulary: '{}' has ids {} and {}", v.tokens[i],
                        it->second, i);
  }
  detect_special_by_text();

  for (size_t i = 0; i < n; ++i) {
    const TokenType t = v.types[i];
    if (t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown)
      special_tokens.push_back(static_cast<TokenId>(i));
  }
  // Same comparator and input order as llama.cpp, so equal lengths tie-break identically.
  std::sort(special_tokens.begin(), special_tokens.end(), [&](TokenId a, TokenId b) {
    return v.tokens[static_cast<size_t>(a)].size() > v.tokens[static_cast<size_t>(b)].size();
  });

  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const std::string hex{'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    auto it = token_to_id.find(hex);
    if (it == token_to_id.end()) it = token_to_id.find(std::string(1, static_cast<char>(b)));
    spm_byte_token[static_cast<size_t>(b)] = it != token_to_id.end() ? it->second : v.unk_id;
  }
  pieces.reserve(n);
  for (size_t i = 0; i < n; ++i) pieces.push_back(make_piece(static_cast<TokenId>(i)));
  return core::Ok{};
}

// llama_token_to_piece(special=true) for one token, before the cache exists.
std::string Tokenizer::Impl::make_piece(TokenId id) const {
  const std::string& text = v.tokens[static_cast<size_t>(id)];
  switch (v.types[static_cast<size_t>(id)]) {
    case TokenType::kUnknown:
    case TokenType::kControl:
    case TokenType::kUserDefined:
      return text;
    case TokenType::kNormal:
      return v.kind == VocabKind::kSpm ? unescape_spm(text) : decode_byte_level(text);
    case TokenType::kByte:
      if (v.kind == VocabKind::kSpm)
        return std::string(1, static_cast<char>(parse_byte_token(text)));
      return {};
    default:
      return {};  // unused / undefined tokens render as nothing
  }
}

std::vector<Tokenizer::Impl::Fragment> Tokenizer::Impl::partition(std::string_view text,
                                                                  bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  std::array<bool, 256> present{};
  for (char c : text) present[static_cast<uint8_t>(c)] = true;
  std::vector<Fragment> next;
  for (TokenId sid : special_tokens) {
    const TokenType type = v.types[static_cast<size_t>(sid)];
    if (!parse_special && (type == TokenType::kControl || type == TokenType::kUnknown)) continue;
    const std::string& st = v.tokens[static_cast<size_t>(sid)];
    if (!present[static_cast<uint8_t>(st[0])] || st.size() > text.size()) continue;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.id >= 0) {
        next.push_back(f);
        continue;
      }
      size_t off = f.offset;
      const size_t end = f.offset + f.length;
      while (off < end) {
        const size_t match = text.substr(0, end).find(st, off);
        if (match == std::string_view::npos) break;
        if (match > off) next.push_back({-1, off, match - off});
        next.push_back({sid, 0, 0});
        off = match + st.size();
      }
      if (off < end) next.push_back({-1, off, end - off});
    }
    frags.swap(next);
  }
  return frags;
}

void Tokenizer::Impl::encode_spm(std::string_view text, std::vector<TokenId>& out) const {
  std::string escaped;
  escaped.reserve(text.size() + 8);
  for (char c : text) {
    if (c == ' ' && v.escape_whitespace) {
      escaped.append(kEscapedSpace);
    } else {
      escaped.push_back(c);
    }
  }
  spm_tokenize(escaped, SpmVocab{token_to_id, v.scores, spm_byte_token}, out);
}

void Tokenizer::Impl::encode_bpe(std::string_view text, std::vector<TokenId>& out) const {
  for (const std::string& word : unicode::pre_tokenize(text, pre->kind)) {
    std::string encoded;
    encoded.reserve(word.size() * 2);
    for (char c : word) encoded.append(unicode::byte_to_symbol(static_cast<uint8_t>(c)));
    bpe_tokenize_word(encoded, BpeVocab{token_to_id, bpe_ranks, pre->ignore_merges}, out);
  }
}

// ---------------------------------------------------------------------------------------------

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(VocabData vocab) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->impl_->v = std::move(vocab);
  SARATHI_RETURN_IF_ERROR(t->impl_->init());
  return t;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& file) {
  SARATHI_ASSIGN_OR_RETURN(VocabData v, read_vocab(file));
  return create(std::move(v));
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<TokenId> out;
  if (add_special && m.v.add_bos) out.push_back(m.v.bos_id);
  bool prev_special = true;  // SPM: a dummy space goes before text at the start or after a token
  for (const Impl::Fragment& f : m.partition(text, parse_special)) {
    if (f.id >= 0) {
      out.push_back(f.id);
      prev_special = true;
      continue;
    }
    const std::string_view raw = text.substr(f.offset, f.length);
    if (m.v.kind == VocabKind::kSpm) {
      if (m.v.add_space_prefix && prev_special) {
        m.encode_spm(std::string(" ").append(raw), out);
      } else {
        m.encode_spm(raw, out);
      }
    } else {
      m.encode_bpe(raw, out);
    }
    prev_special = false;
  }
  if (add_special && m.v.add_eos) out.push_back(m.v.eos_id);
  return out;
}

std::string Tokenizer::token_to_piece(TokenId id, bool special) const {
  const Impl& m = *impl_;
  if (id < 0 || static_cast<size_t>(id) >= m.pieces.size()) return {};
  const TokenType t = m.v.types[static_cast<size_t>(id)];
  if (!special && (t == TokenType::kControl || t == TokenType::kUnknown)) return {};
  return m.pieces[static_cast<size_t>(id)];
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool remove_special,
                              bool unparse_special) const {
  const Impl& m = *impl_;
  bool remove_space = m.v.add_space_prefix;  // llama.cpp strips the first piece's leading space
  if (remove_special && m.v.add_bos && !ids.empty() && ids.front() == m.v.bos_id) {
    remove_space = false;  // ... unless a BOS was removed
    ids = ids.subspan(1);
  }
  if (remove_special && m.v.add_eos && !ids.empty() && ids.back() == m.v.eos_id)
    ids = ids.first(ids.size() - 1);
  std::string text;
  for (TokenId id : ids) {
    const std::string piece = token_to_piece(id, unparse_special);
    const bool strip = remove_space && !piece.empty() && piece[0] == ' ';
    text.append(piece, strip ? 1 : 0);
    remove_space = false;
  }
  if (m.v.kind == VocabKind::kBpe && m.pre->clean_spaces) text = clean_up_spaces(text);
  return text;
}

int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(impl_->v.tokens.size()); }
TokenId Tokenizer::bos_id() const { return impl_->v.bos_id; }
TokenId Tokenizer::eos_id() const { return impl_->v.eos_id; }
bool Tokenizer::add_bos() const { return impl_->v.add_bos; }

bool Tokenizer::is_eog(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->is_eog.size() &&
         impl_->is_eog[static_cast<size_t>(id)] != 0;
}

bool Tokenizer::is_control(TokenId id) const {
  return id >= 0 && id < n_vocab() &&
         impl_->v.types[static_cast<size_t>(id)] == TokenType::kControl;
}

const VocabData& Tokenizer::vocab() const { return impl_->v; }

// ---------------------------------------------------------------------------------------------

std::string IncrementalDecoder::push(TokenId id) {
  pending_ += tok_.token_to_piece(id, special_);
  std::string out;
  const size_t used = unicode::append_lossy_utf8(pending_, /*final=*/false, out);
  pending_.erase(0, used);
  return out;
}

std::string IncrementalDecoder::flush() {
  std::string out;
  unicode::append_lossy_utf8(pending_, /*final=*/true, out);
  pending_.clear();
  return out;
}

}  // namespace sarathi::model
