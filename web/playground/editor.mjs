// The playground's code editor: CodeMirror 6 with a highlighting mode per runakode language.
// scripts/build-playground.sh bundles this file into
// src/runakode/playground/static/vendor/editor.js, which sets window.RunakodeEditor.
import { EditorView, basicSetup } from "codemirror";
import { Compartment, EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { StreamLanguage, HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { brainfuck } from "@codemirror/legacy-modes/mode/brainfuck";
import { c, cpp, csharp, java, kotlin, objectiveC, scala } from "@codemirror/legacy-modes/mode/clike";
import { clojure } from "@codemirror/legacy-modes/mode/clojure";
import { cobol } from "@codemirror/legacy-modes/mode/cobol";
import { coffeeScript } from "@codemirror/legacy-modes/mode/coffeescript";
import { commonLisp } from "@codemirror/legacy-modes/mode/commonlisp";
import { crystal } from "@codemirror/legacy-modes/mode/crystal";
import { d } from "@codemirror/legacy-modes/mode/d";
import { erlang } from "@codemirror/legacy-modes/mode/erlang";
import { forth } from "@codemirror/legacy-modes/mode/forth";
import { fortran } from "@codemirror/legacy-modes/mode/fortran";
import { gas } from "@codemirror/legacy-modes/mode/gas";
import { go } from "@codemirror/legacy-modes/mode/go";
import { groovy } from "@codemirror/legacy-modes/mode/groovy";
import { haskell } from "@codemirror/legacy-modes/mode/haskell";
import { javascript, typescript } from "@codemirror/legacy-modes/mode/javascript";
import { lua } from "@codemirror/legacy-modes/mode/lua";
import { oCaml } from "@codemirror/legacy-modes/mode/mllike";
import { octave } from "@codemirror/legacy-modes/mode/octave";
import { pascal } from "@codemirror/legacy-modes/mode/pascal";
import { perl } from "@codemirror/legacy-modes/mode/perl";
import { python } from "@codemirror/legacy-modes/mode/python";
import { r } from "@codemirror/legacy-modes/mode/r";
import { ruby } from "@codemirror/legacy-modes/mode/ruby";
import { rust } from "@codemirror/legacy-modes/mode/rust";
import { scheme } from "@codemirror/legacy-modes/mode/scheme";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { sqlite } from "@codemirror/legacy-modes/mode/sql";
import { tcl } from "@codemirror/legacy-modes/mode/tcl";
import { verilog } from "@codemirror/legacy-modes/mode/verilog";

// runakode language name -> highlighting. Where CodeMirror has no mode of its own, the closest
// relative's (Elixir reads well as Ruby, Nim as Python, Raku as Perl); none for plain text.
const MODES = {
  assembly: gas,
  awk: shell,
  bash: shell,
  brainfuck,
  c,
  "c-clang": c,
  clojure,
  cobol,
  coffeescript: coffeeScript,
  commonlisp: commonLisp,
  cpp,
  "cpp-clang": cpp,
  crystal,
  csharp,
  d,
  dash: shell,
  elixir: ruby,
  emacs: commonLisp,
  erlang,
  forth,
  fortran,
  go,
  groovy,
  haskell,
  iverilog: verilog,
  java,
  javascript,
  kotlin,
  lua,
  nim: python,
  objectivec: objectiveC,
  ocaml: oCaml,
  octave,
  pascal,
  perl,
  php: c,
  python,
  r,
  racket: scheme,
  raku: perl,
  ruby,
  rust,
  scala,
  sqlite3: sqlite,
  tcl,
  typescript,
};

// Colours from CSS variables, so that the page's light and dark themes apply to the code.
const highlighting = HighlightStyle.define([
  { tag: [tags.keyword, tags.controlKeyword, tags.operatorKeyword], color: "var(--code-keyword)" },
  { tag: [tags.string, tags.special(tags.string), tags.character], color: "var(--code-string)" },
  { tag: [tags.number, tags.bool, tags.null, tags.atom], color: "var(--code-number)" },
  { tag: [tags.comment, tags.lineComment, tags.blockComment], color: "var(--code-comment)", fontStyle: "italic" },
  { tag: [tags.definition(tags.variableName), tags.function(tags.variableName)], color: "var(--code-function)" },
  { tag: [tags.typeName, tags.className, tags.namespace], color: "var(--code-type)" },
  { tag: [tags.meta, tags.processingInstruction], color: "var(--code-meta)" },
]);

const theme = EditorView.theme({
  "&": { height: "100%", color: "var(--fg)", backgroundColor: "var(--editor-bg)" },
  ".cm-content": { caretColor: "var(--fg)", fontFamily: "var(--mono)" },
  ".cm-gutters": { backgroundColor: "var(--panel)", color: "var(--muted)", border: "none" },
  ".cm-activeLine": { backgroundColor: "var(--active-line)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--active-line)" },
  "&.cm-focused .cm-cursor": { borderLeftColor: "var(--fg)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": {
    backgroundColor: "var(--selection)",
  },
});

function languageExtension(name) {
  const mode = MODES[name];
  return mode ? StreamLanguage.define(mode) : [];
}

// The one thing the page needs: an editor in `parent`, labelled `label` for screen readers and
// tests, calling onChange(text) on every edit and onRun() on Ctrl+Enter.
export function createEditor({ parent, doc, language, label, onChange, onRun }) {
  const languageSlot = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true) }, indentWithTab]),
        basicSetup,
        theme,
        syntaxHighlighting(highlighting),
        languageSlot.of(languageExtension(language)),
        EditorView.contentAttributes.of({ "aria-label": label, "aria-multiline": "true" }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    getText: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    setLanguage(name) {
      view.dispatch({ effects: languageSlot.reconfigure(languageExtension(name)) });
    },
    focus: () => view.focus(),
  };
}

window.RunakodeEditor = { createEditor, languages: Object.keys(MODES) };
