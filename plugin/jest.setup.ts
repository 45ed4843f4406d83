// jsdom lacks a few browser APIs that @grafana/ui touches while rendering; the stubs do nothing,
// which is what a hidden test page would observe anyway.
import '@testing-library/jest-dom';
import { configure } from '@testing-library/react';

// findBy*/waitFor wait for hub round trips; on a busy CI machine one second is not always enough.
configure({ asyncUtilTimeout: 5000 });

if (typeof window !== 'undefined') {
  class NoopObserver {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
    takeRecords(): [] {
      return [];
    }
  }
  const w = window as unknown as Record<string, unknown>;
  w.IntersectionObserver ??= NoopObserver;
  w.ResizeObserver ??= NoopObserver;
  w.matchMedia ??= (query: string) => ({
    matches: false,
    media: query,
    onchange: null,
    addListener: () => {},
    removeListener: () => {},
    addEventListener: () => {},
    removeEventListener: () => {},
    dispatchEvent: () => false,
  });
}
