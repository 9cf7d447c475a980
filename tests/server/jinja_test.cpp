// Unit tests of the Jinja interpreter: syntax, whitespace control, expression semantics
// (Python's), filters/tests/methods, scoping, errors and limits.
#include "server/jinja.h"

#include <gtest/gtest.h>

#include <string>

namespace sarathi::server {
namespace {

using Json = nlohmann::ordered_json;

/// Renders `tpl`; returns the text, or "ERROR: <message>".
std::string render(std::string_view tpl, const Json& ctx = Json::object(),
                   const jinja::TemplateOptions& opts = {}) {
  auto t = jinja::Template::parse(tpl, opts);
  if (!t.ok()) return "ERROR: " + t.error().message;
  auto out = t->render(ctx);
  if (!out.ok()) return "ERROR: " + out.error().message;
  return *out;
}

core::ErrorCode error_code(std::string_view tpl, const Json& ctx = Json::object(),
                           const jinja::TemplateOptions& opts = {}) {
  auto t = jinja::Template::parse(tpl, opts);
  if (!t.ok()) return t.error().code;
  auto out = t->render(ctx);
  EXPECT_FALSE(out.ok()) << "rendered: " << *out;
  return out.ok() ? core::ErrorCode::kInternal : out.error().code;
}

TEST(Jinja, TextCommentsAndOutput) {
  EXPECT_EQ(render("plain text"), "plain text");
  EXPECT_EQ(render("a{# comment #}b"), "ab");
  EXPECT_EQ(render("{{ 'x' }}{{ \"y\" }}{{ 'a' 'b' }}"), "xyab");
  EXPECT_EQ(render("{{ name }}!", {{"name", "world"}}), "world!");
  EXPECT_EQ(render("{% raw %}{{ not evaluated }}{% endraw %}"), "{{ not evaluated }}");
  EXPECT_EQ(render("{{ '}}' }}"), "}}");                      // delimiters inside strings
  EXPECT_EQ(render("{{ {'a': {'b': 1}}['a']['b'] }}"), "1");  // }} inside a dict literal
}

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(render("a  {%- if true %}b{% endif -%}  \n c"), "abc");
  EXPECT_EQ(render("a {{- 'b' -}} c"), "abc");
  EXPECT_EQ(render("a {#- c -#} b"), "ab");
  // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before it.
  EXPECT_EQ(render("{% if true %}\n  x\n  {% endif %}\ny"), "  x\ny");
  EXPECT_EQ(render("{{ 'v' }}\nz"), "v\nz");  // not after {{ }}
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\ny"), "  x\ny");
  // Jinja drops one trailing newline of the template; \r\n reads as \n.
  EXPECT_EQ(render("a\r\nb\n"), "a\nb");
  jinja::TemplateOptions plain{.trim_blocks = false, .lstrip_blocks = false};
  EXPECT_EQ(render("{% if true %}\n  x\n  {% endif %}\ny", Json::object(), plain), "\n  x\n  \ny");
}

TEST(Jinja, LiteralsPrintLikePython) {
  EXPECT_EQ(render("{{ true }} {{ False }} {{ none }} {{ 42 }} {{ -3 }}"), "True False None 42 -3");
  EXPECT_EQ(render("{{ 1.0 }} {{ 0.1 }} {{ 2.5e3 }} {{ 1e-5 }} {{ 1e16 }} {{ 123.456 }}"),
            "1.0 0.1 2500.0 1e-05 1e+16 123.456");
  EXPECT_EQ(render("{{ [1, 'a', none, [true]] }}"), "[1, 'a', None, [True]]");
  EXPECT_EQ(render("{{ {'k': 'v', 'n': 1} }}"), "{'k': 'v', 'n': 1}");
  EXPECT_EQ(render("{{ (1, 2) }} {{ () }}"), "[1, 2] []");
  EXPECT_EQ(render("{{ \"it's\" }}|{{ [\"it's\"] }}"), "it's|[\"it's\"]");
  EXPECT_EQ(render(R"({{ 'a\nb\t\'\\' }})"), "a\nb\t'\\");
  EXPECT_EQ(render(R"({{ '\u00e9\x41\101\q' }})"),
            "\xc3\xa9"
            "AA\\q");
}

TEST(Jinja, ArithmeticFollowsPython) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}"),
            "7 9 1024 0.5");
  EXPECT_EQ(render("{{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }}"),
            "3.5 3 -4 2 -2");
  EXPECT_EQ(render("{{ 1 + 0.5 }} {{ 5.5 // 2 }} {{ -5.5 % 2 }} {{ true + 1 }}"), "1.5 2.0 0.5 2");
  EXPECT_EQ(render("{{ 'ab' + 'cd' }} {{ 'ab' * 3 }} {{ 2 * 'x' }} {{ [1] + [2] }} {{ [0] * 2 }}"),
            "abcd ababab xx [1, 2] [0, 0]");
  EXPECT_EQ(render("{{ 'n=' ~ 5 ~ none }}"), "n=5None");
  EXPECT_EQ(render("{{ -(3) }} {{ +3 }} {{ -2 ** 2 }}"), "-3 3 4");  // Jinja: (-2) ** 2
  EXPECT_EQ(error_code("{{ 1 / 0 }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ 1 % 0 }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ 'a' + 1 }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ 9223372036854775807 + 1 }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ -9223372036854775807 - 1 - 1 }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ (-9223372036854775807 - 1) // -1 }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ 3 ** 99 }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ 99999999999999999999 }}"), core::ErrorCode::kInvalidFormat);
}

TEST(Jinja, ComparisonsAndLogic) {
  EXPECT_EQ(render("{{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 2 < 10 }} {{ 'b' >= 'a' }}"),
            "True True True True");
  EXPECT_EQ(render("{{ [1, [2]] == [1, [2]] }} {{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }}"),
            "True True");
  EXPECT_EQ(
      render("{{ 'ell' in 'hello' }} {{ 3 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 1 not in [1] }}"),
      "True False True False");
  EXPECT_EQ(render("{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }}| {{ not 0 }}"), "x b | True");
  EXPECT_EQ(render("{{ 'y' if 1 > 0 else 'n' }} {{ 'y' if 0 }}."), "y .");
  EXPECT_EQ(render("{{ not x is defined }}"), "True");  // not (x is defined)
  EXPECT_EQ(error_code("{{ 1 < 2 < 3 }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ 1 < 'a' }}"), core::ErrorCode::kInvalidFormat);
}

TEST(Jinja, AttributesSubscriptsAndSlices) {
  const Json ctx = {{"m", {{"role", "user"}, {"content", "hi"}}},
                    {"xs", {10, 20, 30, 40}},
                    {"s", "h\xc3\xa9llo"}};
  EXPECT_EQ(render("{{ m.role }} {{ m['content'] }} {{ m.missing }}|", ctx), "user hi |");
  EXPECT_EQ(render("{{ xs[0] }} {{ xs[-1] }} {{ xs[9] }}|{{ xs.1 }}", ctx), "10 40 |20");
  EXPECT_EQ(render("{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[5:] }}", ctx),
            "[20, 30, 40] [10, 20, 30] [40, 30, 20, 10] [10, 30] []");
  EXPECT_EQ(render("{{ s[1] }} {{ s[1:3] }} {{ s[-1] }} {{ s[:-1] }}", ctx),
            "\xc3\xa9 \xc3\xa9l o h\xc3\xa9ll");
  EXPECT_EQ(render("{{ undefined_thing.attr.deeper }}|{{ none.attr }}|"), "||");
  EXPECT_EQ(error_code("{{ xs[::0] }}", ctx), core::ErrorCode::kInvalidFormat);
}

TEST(Jinja, Filters) {
  const Json ctx = {{"msgs", Json::parse(R"([{"role":"system","content":"S"},
                                            {"role":"user","content":"U1"},
                                            {"role":"user","content":"U2"}])")}};
  EXPECT_EQ(render("[{{ '  a b \n' | trim }}] {{ 'xxaxx' | trim('x') }}"), "[a b] a");
  EXPECT_EQ(render("{{ 'h\xc3\xa9' | length }} {{ [1, 2] | count }} {{ {'a': 1} | length }}"),
            "2 2 1");
  EXPECT_EQ(render("{{ 'aBc' | upper }} {{ 'aBc' | lower }} {{ 'hello world' | capitalize }}"),
            "ABC abc Hello world");
  EXPECT_EQ(render("{{ 'hello wORLD-x' | title }} {{ 42 | string }}"), "Hello World-X 42");
  EXPECT_EQ(render("{{ missing | default('d') }} {{ '' | default('d') }} {{ '' | d('d', true) }}"),
            "d  d");
  EXPECT_EQ(
      render("{{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ 'abc' | first }} {{ [] | first }}"),
      "3 2 a ");
  EXPECT_EQ(render("{{ 'a-b-c' | replace('-', '+') }} {{ 'aaa' | replace('a', 'b', 2) }}"),
            "a+b+c bba");
  EXPECT_EQ(render("{{ [1, 'x', none] | join(', ') }} {{ 'abc' | list }}"),
            "1, x, None ['a', 'b', 'c']");
  EXPECT_EQ(render("{{ {'a': 1, 'b': [2]} | items | list }}"), "[['a', 1], ['b', [2]]]");
  EXPECT_EQ(
      render("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join }}",
             ctx),
      "U1U2");
  EXPECT_EQ(render("{{ msgs | rejectattr('role', 'equalto', 'user') | list | length }}", ctx), "1");
  EXPECT_EQ(render("{{ ['a', 'code', 'b'] | reject('equalto', 'code') | join(',') }}"), "a,b");
  EXPECT_EQ(render("{{ [0, 1, 2] | select | list }} {{ [1, 2, 3, 4] | select('odd') | list }}"),
            "[1, 2] [1, 3]");
  EXPECT_EQ(render("{{ '42' | int + 1 }} {{ '3.7' | int }} {{ 'x' | int(7) }} {{ '2.5' | float }}"),
            "43 3 7 2.5");
  EXPECT_EQ(
      render(
          "{{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ -3 | abs }}"),
      "2.0 3.14 3.0 3");
  EXPECT_EQ(render("{{ 'a\nb\n\nc' | indent(2) }}|{{ 'x\ny' | indent(first=true) }}"),
            "a\n  b\n\n  c|    x\n    y");
  EXPECT_EQ(
      render("{{ ['b', 'A', 'c'] | sort | join }} {{ [3, 1, 2] | sort(reverse=true) | join }}"),
      "Abc 321");
  EXPECT_EQ(render("{{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }} {{ '<a&b>' | e }}"),
            "[3, 2, 1] cba &lt;a&amp;b&gt;");
  EXPECT_EQ(error_code("{{ 'x' | no_such_filter }}"), core::ErrorCode::kInvalidFormat);
}

TEST(Jinja, ToJsonMatchesHuggingFace) {
  // HF overrides tojson with json.dumps(ensure_ascii=False): ", " and ": " separators, key order
  // kept, no HTML escaping.
  const Json ctx = {
      {"t", Json::parse(R"({"name":"f","args":{"x":[1,2.5,true,null]},"u":"é<\"\n"})")}};
  EXPECT_EQ(render("{{ t | tojson }}", ctx),
            R"({"name": "f", "args": {"x": [1, 2.5, true, null]}, "u": "é<\"\n"})");
  EXPECT_EQ(render("{{ t.args | tojson(indent=2) }}", ctx),
            "{\n  \"x\": [\n    1,\n    2.5,\n    true,\n    null\n  ]\n}");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}"), R"({"a": 2, "b": 1})");
  EXPECT_EQ(render("{{ {'a': [1]} | tojson(separators=(',', ':')) }}"), R"({"a":[1]})");
  EXPECT_EQ(render("{{ 'é' | tojson(ensure_ascii=true) }} {{ [] | tojson }} {{ {} | tojson }}"),
            R"("\u00e9" [] {})");
  EXPECT_EQ(error_code("{{ undefined_var | tojson }}"), core::ErrorCode::kInvalidFormat);
}

TEST(Jinja, TestsAndMethods) {
  EXPECT_EQ(
      render("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 1 is not none }}"),
      "False True True True");
  EXPECT_EQ(
      render("{{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 1.5 is number }}"),
      "True True True True");
  EXPECT_EQ(
      render("{{ 1 is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ false is false }}"),
      "True True True True");
  EXPECT_EQ(
      render("{{ 6 is divisibleby 3 }} {{ 3 is odd }} {{ 3 is even }} {{ 'a' is equalto 'a' }}"),
      "True True False True");
  EXPECT_EQ(
      render("{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 2 is in [1, 2] }} {{ 1 is eq(1) }}"),
      "True True True True");
  EXPECT_EQ(render("{{ '  x  '.strip() }}|{{ 'xxyxx'.lstrip('x') }}|{{ ' y '.rstrip() }}|"),
            "x|yxx| y|");
  EXPECT_EQ(render("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'bc')) }}"), "True True");
  EXPECT_EQ(render("{{ ' a  b '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }}"),
            "['a', 'b'] ['a', 'b', '', 'c'] ['a', 'b c']");
  EXPECT_EQ(render("{{ 'assistant'.title() }} {{ 'ab'.upper() }} {{ '-'.join(['a', 'b']) }}"),
            "Assistant AB a-b");
  EXPECT_EQ(
      render("{% set d = {'a': 1} %}{{ d.get('a') }} {{ d.get('b', 2) }} {{ d.keys() | list }} "
             "{{ d.values() | list }} {{ d.items() | list }}"),
      "1 2 ['a'] [1] [['a', 1]]");
  EXPECT_EQ(error_code("{{ 'x'.nope() }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ 'x'.strip(5) }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ 'x' | __repeat__ }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{{ nope() }}"), core::ErrorCode::kInvalidFormat);
}

TEST(Jinja, ForLoops) {
  EXPECT_EQ(render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ x }}{{ loop.index0 }}"
                   "{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}"
                   "{{ loop.length }}{{ loop.revindex }},{% endfor %}"),
            "1a0F33,2b132,3c2L31,");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }} {% endfor %}"),
            "15 35 55 75 95 ");
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"),
            "a=1;b=2;");
  EXPECT_EQ(render("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}"), "ab");
  EXPECT_EQ(render("{% for c in 'h\xc3\xa9' %}[{{ c }}]{% endfor %}"), "[h][\xc3\xa9]");
  EXPECT_EQ(render("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}"
                   "{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
            "02");
  EXPECT_EQ(render("{% for i in range(2) %}{% for j in range(2) %}{{ loop.index }}{% endfor %}"
                   "{{ loop.index }}|{% endfor %}"),
            "121|122|");
  EXPECT_EQ(
      render("{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(3, 0, -1) | list }}"),
      "[0, 1, 2] [1, 3, 5] [3, 2, 1]");
  EXPECT_EQ(error_code("{% for a, b in [1] %}{% endfor %}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{% for a in 5 %}{% endfor %}"), core::ErrorCode::kInvalidFormat);
}

TEST(Jinja, SetScopingAndNamespaces) {
  // A set inside a loop stays in the loop (Jinja scoping); a namespace carries state out.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"),
            "21");
  EXPECT_EQ(render("{% set ns = namespace(found=false, n=0) %}{% for i in range(3) %}"
                   "{% set ns.found = true %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.found }} "
                   "{{ ns.n }}"),
            "True 3");
  EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.idx = 5 %}{{ ns.idx }}"), "5");
  EXPECT_EQ(render("{% if true %}{% set y = 'in-if' %}{% endif %}{{ y }}"), "in-if");
  EXPECT_EQ(
      render("{% set messages = messages[1:] %}{{ messages | length }}", {{"messages", {1, 2, 3}}}),
      "2");
  EXPECT_EQ(render("{% set block %}a{{ 1 + 1 }}b{% endset %}[{{ block }}]"), "[a2b]");
  EXPECT_EQ(error_code("{% set x = 1 %}{% set x.y = 2 %}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(error_code("{% set ns = namespace() %}{% set ns.self = ns %}"),
            core::ErrorCode::kInvalidFormat);
}

TEST(Jinja, RaiseExceptionIsAUserError) {
  auto t = jinja::Template::parse(
      "{% if x %}{{ raise_exception('Roles must alternate') }}{% endif %}ok");
  ASSERT_TRUE(t.ok());
  auto bad = t->render({{"x", true}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "Roles must alternate");
  EXPECT_EQ(*t->render({{"x", false}}), "ok");
}

TEST(Jinja, GlobalsAndUndefined) {
  EXPECT_EQ(render("{{ raise_exception is defined }} {{ strftime_now is defined }}"), "True True");
  EXPECT_EQ(render("{{ strftime_now('%Y') | length }}"), "4");
  EXPECT_EQ(error_code("{{ strftime_now('%s %n') }}"), core::ErrorCode::kInvalidFormat);
  EXPECT_EQ(render("[{{ nothing }}]{% for x in nothing %}x{% endfor %}{{ nothing | length }}"),
            "[]0");
  EXPECT_EQ(render("{% generation %}g{% endgeneration %}"), "g");
}

TEST(Jinja, SyntaxErrorsNameTheLine) {
  auto t = jinja::Template::parse("line1\n{% if x %}\nno end");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, core::ErrorCode::kInvalidFormat);
  EXPECT_NE(t.error().message.find("endif"), std::string::npos) << t.error().message;
  for (const char* bad :
       {"{{ x", "{% if %}", "{% endif %}", "{% macro m() %}{% endmacro %}", "{{ 1 + }}",
        "{{ x | }}", "{{ 'unterminated }}", "{# open", "{{ x @ y }}", "{% for x in y %}",
        "{% break %}", "{{ ) }}", "{{ f(a=1, 2) }}", "{% set %}", "{{ [1, 2 }}", "{% raw %}x"}) {
    auto r = jinja::Template::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidFormat) << bad;
    }
  }
  auto deep =
      jinja::Template::parse("{{ " + std::string(200, '(') + "1" + std::string(200, ')') + " }}");
  ASSERT_FALSE(deep.ok());
  std::string chain = "{{ 1";
  for (int i = 0; i < 1000; ++i) chain += " + 1";
  EXPECT_FALSE(jinja::Template::parse(chain + " }}").ok());  // tree depth bounded
}

TEST(Jinja, LimitsStopRunawayTemplates) {
  EXPECT_EQ(error_code(
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
            core::ErrorCode::kOutOfRange);
  EXPECT_EQ(error_code("{{ 'x' * 1000000000 }}"), core::ErrorCode::kOutOfRange);
  EXPECT_EQ(error_code("{{ range(1000000000) | length }}"), core::ErrorCode::kOutOfRange);
  EXPECT_EQ(error_code("{% set ns = namespace(s='xx') %}{% for i in range(64) %}"
                       "{% set ns.s = ns.s + ns.s %}{% endfor %}"),
            core::ErrorCode::kOutOfRange);
  EXPECT_EQ(error_code("{% set ns = namespace(l=[]) %}{% for i in range(100) %}"
                       "{% set ns.l = [ns.l] %}{% endfor %}"),
            core::ErrorCode::kInvalidFormat);  // value nesting bound
  jinja::TemplateOptions few{.max_list_items = 5};
  EXPECT_EQ(error_code("{% for c in 'abcdefgh' %}{% endfor %}", Json::object(), few),
            core::ErrorCode::kOutOfRange);
  jinja::TemplateOptions small{.max_output_bytes = 10};
  EXPECT_EQ(error_code("{% for i in range(20) %}x{% endfor %}", Json::object(), small),
            core::ErrorCode::kOutOfRange);
  EXPECT_EQ(render("{% for i in range(10) %}x{% endfor %}", Json::object(), small), "xxxxxxxxxx");
}

}  // namespace
}  // namespace sarathi::server
