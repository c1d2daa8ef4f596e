// The widgets' stylesheet, adopted by each shadow root (no inline styles, so a
// strict CSP needs no 'unsafe-inline'). `all: initial !important` on the host
// keeps the page's own CSS out.
export const CSS = `
:host { all: initial !important; position: fixed !important; z-index: 2147483000 !important;
  font-family: "Apple SD Gothic Neo", "Noto Sans KR", "NanumGothic", "Malgun Gothic", sans-serif !important;
  font-size: 15px !important; line-height: 1.4 !important; color: #1c1c1e !important; }
:host(.bottom-right) { right: 16px !important; bottom: 96px !important; } :host(.bottom-left) { left: 16px !important; bottom: 24px !important; }
:host(.top-right) { right: 16px !important; top: 16px !important; } :host(.top-left) { left: 16px !important; top: 16px !important; }
:host(.right) { right: 16px !important; top: 45% !important; } :host(.left) { left: 16px !important; top: 45% !important; }
:host(.center) { left: 50% !important; bottom: 24px !important; transform: translateX(-50%) !important; }
* { box-sizing: border-box; font: inherit; margin: 0; }
.card { display: flex; gap: 10px; align-items: flex-start; background: #fff; border-radius: 14px;
  box-shadow: 0 8px 28px rgba(0,0,0,.18); padding: 14px 16px; max-width: min(360px, calc(100vw - 32px));
  animation: pop .25s ease-out; }
.pop { display: inline-flex; align-items: center; gap: 8px; border: 0; border-radius: 999px;
  background: #e8413d; color: #fff; padding: 12px 18px; font-weight: 700; cursor: pointer;
  box-shadow: 0 6px 18px rgba(232,65,61,.35); max-width: calc(100vw - 32px); animation: pop .3s ease-out; }
.round { width: 112px; height: 112px; border-radius: 50%; border: 0; background: #3557d4; color: #fff;
  font-weight: 700; font-size: 14px; padding: 14px; cursor: pointer; text-align: center;
  box-shadow: 0 8px 24px rgba(53,87,212,.35); overflow: hidden; animation: pop .3s ease-out; }
.round img { width: 100%; height: 100%; object-fit: cover; border-radius: 50%; }
.wrap { position: relative; display: inline-block; }
.close { border: 0; background: transparent; color: #555; font-size: 18px; line-height: 1; cursor: pointer;
  padding: 4px 6px; border-radius: 6px; }
.wrap > .close { position: absolute; top: -8px; right: -8px; background: #fff; color: #333;
  box-shadow: 0 2px 6px rgba(0,0,0,.25); border-radius: 50%; width: 26px; height: 26px; padding: 0; }
.body { flex: 1; min-width: 0; } .title { font-weight: 700; display: block; margin-bottom: 2px; }
.text { color: #3a3a3c; word-break: keep-all; overflow-wrap: anywhere; }
.link { display: inline-block; margin-top: 8px; color: #3557d4; font-weight: 700; background: none;
  border: 0; padding: 0; cursor: pointer; text-decoration: underline; }
.thumb { width: 48px; height: 48px; border-radius: 8px; object-fit: cover; }
.keys { display: inline-block; margin-top: 6px; padding: 2px 8px; border-radius: 6px; background: #f2f2f7;
  font-weight: 700; }
.cards { list-style: none; padding: 0; margin: 8px 0 0; display: grid; gap: 6px; }
.wrap > .cards { position: absolute; bottom: calc(100% + 8px); left: 0; width: min(300px, calc(100vw - 32px));
  background: #fff; border-radius: 12px; padding: 8px; box-shadow: 0 8px 28px rgba(0,0,0,.18); margin: 0; }
.product { display: flex; gap: 8px; align-items: center; width: 100%; border: 0; background: #f7f7fa;
  border-radius: 10px; padding: 6px; cursor: pointer; text-align: left; color: inherit; }
.product .thumb { width: 40px; height: 40px; } .about { display: grid; min-width: 0; }
.name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; } .price { font-weight: 700; color: #e8413d; }
button:focus-visible { outline: 3px solid #ffbf00; outline-offset: 2px; }
.leaving { opacity: 0; transform: translateY(8px); transition: opacity .2s, transform .2s; }
@keyframes pop { from { opacity: 0; transform: translateY(12px) scale(.96); } to { opacity: 1; transform: none; } }
@media (prefers-reduced-motion: reduce) { * { animation: none !important; transition: none !important; } }
@media (max-width: 480px) { :host(.bottom-right), :host(.bottom-left) { bottom: 16px !important; } }
`;
