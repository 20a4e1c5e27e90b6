//! The live page `--listen` serves at `/`: the report's styles, figures
//! that update every second from `/live.json`, drawn by a small script.
//! Every text from the run is set as text (`textContent`), never as markup.

/// The page, with the report's stylesheet inlined.
pub fn html() -> String {
    include_str!("page.html").replace("/*CSS*/", crate::report::html::STYLE)
}
