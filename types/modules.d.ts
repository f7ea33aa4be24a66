// The ES-module build of wgsl_reflect has no .d.ts beside it; its types are the package's own.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}

declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
