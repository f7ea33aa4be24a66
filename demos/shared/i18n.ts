// Every piece of text on the demo pages in English and Japanese. The language
// follows navigator.language until the reader picks one with the switch; the
// choice is stored in localStorage. A `lang` URL parameter overrides both (the
// browser tests use it for screenshots in each language).

export type Language = 'en' | 'ja';
export type Messages = Record<string, { en: string; ja: string }>;

const STORAGE_KEY = 'metagrad-demos-language';
const listeners: ((language: Language) => void)[] = [];
let current: Language = initialLanguage();
let table: Messages = {};

function isLanguage(value: string | null): value is Language {
  return value === 'en' || value === 'ja';
}

function initialLanguage(): Language {
  const fromUrl = new URLSearchParams(location.search).get('lang');
  if (isLanguage(fromUrl)) return fromUrl;
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled (private modes); the browser's language still applies.
  }
  if (isLanguage(stored)) return stored;
  return navigator.language.toLowerCase().startsWith('ja') ? 'ja' : 'en';
}

export function language(): Language {
  return current;
}

/** Registers a page's messages; keys of later calls replace earlier ones. */
export function addMessages(messages: Messages): void {
  table = { ...table, ...messages };
}

/** Returns the message `key` in the current language with `{name}` placeholders filled from `values`. */
export function t(key: string, values: Record<string, string | number> = {}): string {
  const entry = table[key];
  if (!entry) throw new Error(`i18n: no message "${key}"; add it to the page's messages.`);
  return entry[current].replace(/\{(\w+)\}/g, (_, name: string) =>
    name in values ? String(values[name]) : `{${name}}`,
  );
}

/** Fills every element with a data-i18n attribute with its message. */
export function translatePage(): void {
  document.documentElement.lang = current;
  document.querySelectorAll<HTMLElement>('[data-i18n]').forEach((element) => {
    element.textContent = t(element.dataset.i18n!);
  });
  const title = document.querySelector<HTMLElement>('title[data-i18n]');
  if (title) document.title = title.textContent ?? '';
}

/** Calls `listener` after each language change, to redraw text that a page builds itself. */
export function onLanguageChange(listener: (language: Language) => void): void {
  listeners.push(listener);
}

export function setLanguage(next: Language): void {
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Without storage the choice lasts for this page only.
  }
  translatePage();
  for (const listener of listeners) listener(next);
}

/** Adds the English / 日本語 switch to `container`. */
export function mountLanguageSwitch(container: HTMLElement): void {
  const options: [Language, string][] = [
    ['en', 'English'],
    ['ja', '日本語'],
  ];
  for (const [code, label] of options) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = label;
    button.className = 'language';
    button.dataset.language = code;
    button.setAttribute('aria-pressed', String(code === current));
    button.addEventListener('click', () => setLanguage(code));
    container.append(button);
  }
  onLanguageChange((language) => {
    container.querySelectorAll<HTMLButtonElement>('button.language').forEach((button) => {
      button.setAttribute('aria-pressed', String(button.dataset.language === language));
    });
  });
}
