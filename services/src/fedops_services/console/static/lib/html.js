// One import for every page: Preact's renderer, its hooks and the htm tag (vendored, one file).
export {
  html, render, useState, useEffect, useRef, useMemo, useCallback, useReducer,
  createContext, useContext,
} from "../vendor/htm-preact-standalone.module.js";
