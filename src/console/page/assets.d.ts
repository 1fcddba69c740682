// esbuild bundles the stylesheet main.tsx imports into a file of its own.
declare module "*.css";
