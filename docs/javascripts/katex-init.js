// Render the formulas (pymdownx.arithmatex, generic mode) with KaTeX when it was copied into the site.
document$.subscribe(({ body }) => {
  if (typeof renderMathInElement === "undefined") return;  // no KaTeX: the TeX source stays readable
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  });
});
