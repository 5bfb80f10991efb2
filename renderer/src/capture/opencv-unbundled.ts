/**
 * Stands in for '@techstark/opencv-js' in the renderer bundle (vite.config.ts alias): the live-analysis
 * worker loads the real file with importScripts and hands it to loadOpenCV itself, so bundling the
 * package (11 MB) would only add weight. Whatever imports it gets the global the script defined.
 */
const opencvGlobal: unknown = (globalThis as { cv?: unknown }).cv;
export default opencvGlobal;
