// Escaping text from outside gantryctl for the terminal (ctl/terminal_text.h).

#include "ctl/terminal_text.h"

#include <gtest/gtest.h>

namespace gantry::ctl {
namespace {

TEST(TerminalText, EscapesControlCharactersInACell) {
  EXPECT_EQ(EscapeControls("ok"), "ok");
  EXPECT_EQ(EscapeControls("a\x1b]0;owned\x07z"), "a\\x1b]0;owned\\x07z");
  EXPECT_EQ(EscapeControls("line\nnext\ttab\rback\x7f"), "line\\nnext\\ttab\\rback\\x7f");
  // UTF-8 text stays; the C1 controls (here CSI, U+009B) do not.
  EXPECT_EQ(EscapeControls("caf\xc3\xa9 \xc2\xa0 \xc2\x9b"
                           "2J"),
            "caf\xc3\xa9 \xc2\xa0 \\u009b2J");
}

TEST(TerminalText, ContainerOutputKeepsLinesAndCatchesASplitControl) {
  TerminalText t(/*keep_lines=*/true);
  EXPECT_EQ(t.Feed("one\n\ttwo\x1b[2J\n"), "one\n\ttwo\\x1b[2J\n");
  EXPECT_EQ(t.Feed("end \xc2"), "end ");
  EXPECT_EQ(t.Feed("\x9b"
                   "2J"),
            "\\u009b2J");
  EXPECT_EQ(t.Feed("\xc2"), "");
  EXPECT_EQ(t.Flush(), "\xc2");
}

}  // namespace
}  // namespace gantry::ctl
