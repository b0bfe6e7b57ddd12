/** The file dist/ holds once `npm run build` completed. */
export declare const STAMP: string;
/** True when dist/ was built after the last change to any file under `root`/src. */
export declare function freshDist(root: string): boolean;
