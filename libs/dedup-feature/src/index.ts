export * from './dedup-feature.module';
export * from './dedup.service';
